# Shared by the benchmarks: a local control plane of their own in STATE
# (each script stops it in its own EXIT trap). Source it, then call
# start_bench_cluster.
# shellcheck shell=bash

# start_bench_cluster ROOT STATE: builds (cached) and starts the cluster,
# exports KUBECONFIG, defines k() as kubectl against it.
start_bench_cluster() {
  local root="$1" state="$2"
  "$root/tests/cluster/build-control-plane.sh" >/dev/null
  "$root/tests/cluster/build-node-agent.sh" "$(dirname "$state")/node-agent" >/dev/null
  "$root/tests/cluster/stop.sh" "$state" >/dev/null 2>&1 || true
  "$root/tests/cluster/start.sh" "$state" >/dev/null
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
