#!/usr/bin/env bash
# Checks a cluster started with `start.sh --node real`: the kubelet's node is
# Ready; a busybox pod runs in a real container (its own root file system,
# host name, PID namespace, an address on the CNI bridge); `kubectl logs` and
# `kubectl exec` go through the API server to the kubelet; the template's
# securityContext (read-only root, uid 65532) holds in the container; pods
# reach each other over the bridge and nothing outside it.
#
# Usage: real-node-test.sh STATE_DIR   (a running cluster from start.sh --node real)
# Last line: "real-node: N passed, N failed"; exit status 1 if anything failed
# or a tool is missing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_log_prefix=real-node-test
# shellcheck source=lib.sh
source "$HERE/lib.sh"
d="${1:-${IRSTEPS_CLUSTER_DIR:-/tmp/irsteps-cluster}}"
[[ -f "$d/env.sh" ]] || die "no cluster in $d (run start.sh --node real first)"
STATE_DIR="$(cd "$d" && pwd)"
# shellcheck disable=SC1091
source "$STATE_DIR/env.sh"
[[ "${IRSTEPS_NODE_KIND:-}" == real ]] || die "the cluster in $STATE_DIR has no real node (start.sh --node real)"
command -v kubectl >/dev/null || die "kubectl missing"
command -v python3 >/dev/null || die "python3 missing"
k() { kubectl --request-timeout=30s "$@"; }


NS="realnode-$RANDOM"
NODE="$IRSTEPS_NODE_NAME"
IMG="$IRSTEPS_BUSYBOX_IMAGE"
k create namespace "$NS" >/dev/null
trap 'k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
# Pods need the namespace's default ServiceAccount (its token Secret is
# mounted); the controller-manager creates it a moment after the namespace.
for _ in $(seq 1 80); do k -n "$NS" get serviceaccount default >/dev/null 2>&1 && break; sleep 0.25; done

node_is_ready() {
  [[ "$(k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]] || return 1
  # A real kubelet reports its runtime and the node's address 127.0.0.1.
  [[ "$(k get node "$NODE" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')" == containerd://* ]] || return 1
  [[ "$(k get node "$NODE" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}')" == 127.0.0.1 ]]
}
check "node $NODE is Ready, runs containerd, InternalIP 127.0.0.1" node_is_ready

# pod NAME YAML_SECURITY_CONTEXT_LINES COMMAND : a busybox pod on the node.
pod() {
  k -n "$NS" apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $1
  labels: {app: $1}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  automountServiceAccountToken: false
  containers:
  - name: main
    image: $IMG
    imagePullPolicy: Never
    command: ["/bin/sh", "-c", "$3"]
$2
EOF
}
wait_running() {
  k -n "$NS" wait --for=condition=Ready "pod/$1" --timeout=90s >/dev/null || {
    k -n "$NS" describe pod "$1" | tail -n 15; return 1; }
}

# shellcheck disable=SC2016  # $(hostname) expands in the container
pod hello "" 'echo hello from $(hostname); exec sleep 3600' >/dev/null
check "busybox pod runs on the real node" wait_running hello

logs_ok() {
  local out
  out="$(k -n "$NS" logs hello)"
  [[ "$out" == "hello from hello" ]] || { echo "logs: '$out'"; return 1; }
}
check "kubectl logs reaches the kubelet" logs_ok

exec_ok() {
  local out
  # A real container: its host name is the pod's, PID 1 is its own command,
  # its root is the image (busybox only, no Debian files of the host).
  out="$(k -n "$NS" exec hello -- sh -c 'hostname; cat /proc/1/comm; test -e /etc/debian_version && echo host-root || echo image-root; exit 7')" \
    && { echo "exit status 7 was lost"; return 1; }
  [[ "$out" == $'hello\nsleep\nimage-root' ]] || { echo "exec output: '$out'"; return 1; }
  [[ "$(printf 'through stdin' | k -n "$NS" exec -i hello -- cat)" == "through stdin" ]]
}
check "kubectl exec runs in the container (output, exit status, stdin)" exec_ok

pod_ip_ok() {
  local ip subnet
  ip="$(k -n "$NS" get pod hello -o jsonpath='{.status.podIP}')"
  subnet="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["plugins"][0]["ipam"]["ranges"][0][0]["subnet"])' \
    "$STATE_DIR/node/cni/net.d/10-irsteps.conflist")"
  python3 -c 'import ipaddress,sys; sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2]) else 1)' "$ip" "$subnet" \
    || { echo "pod IP '$ip' not in $subnet"; return 1; }
}
check "pod address on the CNI bridge's /24" pod_ip_ok

# The WorkflowTemplate's securityContext (workflows/argo/steps.yaml).
pod locked '    securityContext:
      runAsNonRoot: true
      runAsUser: 65532
      runAsGroup: 65532
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: ["ALL"]}' 'exec sleep 3600' >/dev/null
locked_ok() {
  wait_running locked || return 1
  local out
  out="$(k -n "$NS" exec locked -- sh -c 'id -u; touch /probe 2>&1 || true')"
  [[ "$out" == 65532$'\n'*"Read-only file system"* ]] || { echo "exec output: '$out'"; return 1; }
}
check "read-only root and uid 65532 hold in the container" locked_ok

pod web "" 'mkdir -p /tmp/www && echo served-by-web >/tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www' >/dev/null
network_ok() {
  wait_running web || return 1
  local ip out
  ip="$(k -n "$NS" get pod web -o jsonpath='{.status.podIP}')"
  # busybox's nc, not its wget: the static wget looks up the "http" service
  # through glibc's NSS, which a static binary cannot load (it segfaults).
  out="$(k -n "$NS" exec hello -- sh -c "printf 'GET /index.html HTTP/1.0\r\n\r\n' | nc -w 5 $ip 8080")" \
    || { echo "pod to pod failed: $out"; return 1; }
  [[ "$out" == *served-by-web* ]] || { echo "got '$out'"; return 1; }
  # No route out: only the bridge's /24, and an address outside it is
  # unreachable at once.
  out="$(k -n "$NS" exec hello -- ip route)"
  [[ "$out" != *default* && "$(wc -l <<<"$out")" == 1 ]] || { echo "routes in the pod: $out"; return 1; }
  if out="$(k -n "$NS" exec hello -- nc -w 3 192.0.2.1 80 </dev/null 2>&1)"; then
    echo "a pod reached 192.0.2.1: $out"; return 1
  fi
  [[ "$out" == *"Network is unreachable"* ]] || { echo "expected 'Network is unreachable', got: $out"; return 1; }
}
check "pods reach each other over the bridge and nothing outside it" network_ok

delete_ok() {
  k -n "$NS" delete pod hello --timeout=60s >/dev/null || return 1
  ! k -n "$NS" get pod hello >/dev/null 2>&1
}
check "pod deletion ends the container" delete_ok

echo "real-node: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
