# Shared by the benchmarks: a local control plane of their own in STATE
# (each script stops it in its own EXIT trap). Source it, then call
# start_bench_cluster.
# shellcheck shell=bash

# start_bench_cluster ROOT STATE: builds (cached) and starts the cluster,
# exports KUBECONFIG, defines k() as kubectl against it.
# The node is the test node agent (pods are records, exec runs on the host),
# or with IRSTEPS_BENCH_NODE=real a real kubelet with containerd and runc
# (start.sh --node real, as root; not while the realnode tests run: two real
# nodes on one machine share /var/log/pods). BENCH_NODE says which, and
# BENCH_CONTAINER is the container spec (flow-style YAML, without its name)
# of a pod that stays up on it: the node's busybox image sleeping there, a
# made-up image the agent "runs" here.
start_bench_cluster() {
  local root="$1" state="$2"
  BENCH_NODE="${IRSTEPS_BENCH_NODE:-agent}"
  [[ "$BENCH_NODE" == agent || "$BENCH_NODE" == real ]] ||
    { echo "IRSTEPS_BENCH_NODE must be agent or real, not '$BENCH_NODE'" >&2; exit 2; }
  "$root/tests/cluster/build-control-plane.sh" >/dev/null
  "$root/tests/cluster/stop.sh" "$state" >/dev/null 2>&1 || true
  if [[ "$BENCH_NODE" == real ]]; then
    "$root/tests/cluster/build-kubelet.sh" >/dev/null
    "$root/tests/cluster/start.sh" --node real "$state" >/dev/null
    # shellcheck disable=SC1091
    source "$state/env.sh"
    # It ends on SIGTERM, as a service does: a sleep as PID 1 ignores it and
    # would hold every old pod for its 30 s grace period.
    BENCH_CONTAINER="image: $IRSTEPS_BUSYBOX_IMAGE, imagePullPolicy: Never, \
command: [sh, -c, \"trap 'exit 0' TERM; sleep 36000 & wait\"]"
  else
    "$root/tests/cluster/build-node-agent.sh" "$(dirname "$state")/node-agent" >/dev/null
    "$root/tests/cluster/start.sh" "$state" >/dev/null
    BENCH_CONTAINER="image: registry.example/app:1"
  fi
  export KUBECONFIG="$state/kubeconfig"
}

k() { kubectl --kubeconfig "$KUBECONFIG" "$@" 2>/dev/null; }
now_ns() { date +%s%N; }

# bench_workdir: a temporary folder WORK and a list PIDS of background
# processes (receivers, servers), both cleaned up when the script exits.
bench_workdir() {
  WORK="$(mktemp -d)"
  PIDS=()
  trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
}
