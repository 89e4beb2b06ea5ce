#!/usr/bin/env bash
# Benchmark of snapshot --filesystem: a tar of SIZE_MB (default 1024) of files
# streamed through exec and hashed as it streams, next to, in the same run on
# the same pod:
#   - kubectl exec POD -- tar cf - PATH | tee FILE | sha256sum
#   - openssl dgst -sha256 of the same bytes from a local file (the hashing
#     limit of this machine).
# Throughput in MB/s (median of RUNS, default 5) and snapshot's peak RSS.
# The files are the pod's (the node agent's irsteps.io/test-rootfs); with
# IRSTEPS_BENCH_NODE=real (bench/lib.sh) they are a hostPath volume at the
# same path in a real busybox container, read by its tar through the real
# kubelet's exec (containerd, runc).
#
# Usage: bench/snapshot.sh [BUILD_DIR] [SIZE_MB] [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
SIZE_MB="${2:-1024}"
RUNS="${3:-5}"
STATE="${IRSTEPS_BENCH_DIR:-$BUILD/bench-snapshot}"
DATA="$STATE-data"

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
start_bench_cluster "$ROOT" "$STATE"
cleanup() { "$ROOT/tests/cluster/stop.sh" "$STATE" >/dev/null 2>&1 || true; rm -rf "$DATA" "$STATE/out" "$STATE/kubectl.tar"; }
trap cleanup EXIT

# Incompressible data, in 64 MB files, as a container's filesystem.
rm -rf "$DATA" && mkdir -p "$DATA"
for i in $(seq 1 $((SIZE_MB / 64))); do head -c $((64 << 20)) /dev/urandom > "$DATA/blob-$i"; done
k create namespace bench >/dev/null
for _ in $(seq 1 80); do k -n bench get serviceaccount default >/dev/null && break; sleep 0.25; done
if [[ "$BENCH_NODE" == real ]]; then
  k -n bench apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: victim}
spec:
  containers: [{name: app, $BENCH_CONTAINER, volumeMounts: [{name: data, mountPath: "$DATA", readOnly: true}]}]
  volumes: [{name: data, hostPath: {path: "$DATA", type: Directory}}]
YAML
else
  k -n bench apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: victim, annotations: {irsteps.io/test-rootfs: "$DATA"}}
spec: {containers: [{name: app, $BENCH_CONTAINER}]}
YAML
fi
for _ in $(seq 1 120); do [[ $(k -n bench get pod victim -o jsonpath='{.status.phase}') == Running ]] && break; sleep 0.5; done
[[ $(k -n bench get pod victim -o jsonpath='{.status.phase}') == Running ]] || { echo "the pod did not start" >&2; exit 1; }

declare -a T_SNAP T_KUBECTL T_OPENSSL RSS
for i in $(seq 1 "$RUNS"); do
  rm -rf "$STATE/out"
  t0=$(now_ns)
  /usr/bin/time -f %M -o "$STATE/rss.txt" "$BUILD/bin/snapshot" --incident-id INC-2026-11-26-900 --namespace bench \
    --pod victim --out "$STATE/out" --triage=false --filesystem --paths "$DATA" --log-level off >/dev/null
  t1=$(now_ns)
  k -n bench exec victim -- tar cf - "$DATA" | tee "$STATE/kubectl.tar" | sha256sum >/dev/null
  t2=$(now_ns)
  openssl dgst -sha256 "$STATE/kubectl.tar" >/dev/null
  t3=$(now_ns)
  T_SNAP+=($((t1 - t0))); T_KUBECTL+=($((t2 - t1))); T_OPENSSL+=($((t3 - t2))); RSS+=($(tail -1 "$STATE/rss.txt"))
done
bytes=$(stat -c %s "$STATE/kubectl.tar")
BENCH_NODE="$BENCH_NODE" python3 - "$bytes" "${T_SNAP[*]}" "${T_KUBECTL[*]}" "${T_OPENSSL[*]}" "${RSS[*]}" <<'PY'
import statistics, sys
size = int(sys.argv[1])
snap, kubectl, openssl = ([int(x) for x in a.split()] for a in sys.argv[2:5])
rss = [int(x) for x in sys.argv[5].split()]
rate = lambda ns: size / (ns / 1e9) / 1e6
print(f"tar size {size / 1e6:.0f} MB, {len(snap)} runs, node: {__import__('os').environ['BENCH_NODE']}, median throughput:")
for name, values in (("snapshot --filesystem (exec, SHA-256, fsync)", snap),
                     ("kubectl exec tar | tee | sha256sum", kubectl),
                     ("openssl dgst -sha256, local file", openssl)):
    print(f"  {name:46} {rate(statistics.median(values)):8.0f} MB/s")
m = {k: rate(statistics.median(v)) for k, v in (("snap", snap), ("kubectl", kubectl), ("openssl", openssl))}
print(f"snapshot/kubectl = {m['snap'] / m['kubectl']:.2f} (target >= 1); snapshot/openssl = {m['snap'] / m['openssl']:.2f}")
print(f"snapshot peak RSS: {max(rss) / 1024:.1f} MB (target < 64 MB)")
PY
