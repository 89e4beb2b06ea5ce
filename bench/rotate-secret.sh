#!/usr/bin/env bash
# Benchmark of rotate-secret: one Secret used by 10 Deployments, rotated and
# every rollout awaited, next to the kubectl script a responder would run
# (patch the Secret, then 10 × rollout restart and 10 × rollout status) on the
# same cluster in the same run. Medians of RUNS (default 5), interleaved, and
# the API requests each rotate-secret run made (from its log).
#
# With IRSTEPS_BENCH_NODE=real the consumers are real containers on a real
# kubelet (bench/lib.sh), and each rollout waits for real pods to start.
#
# Usage: bench/rotate-secret.sh [BUILD_DIR] [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
RUNS="${2:-5}"
STATE="${IRSTEPS_BENCH_DIR:-$BUILD/bench-rotate}"

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
start_bench_cluster "$ROOT" "$STATE"
trap '"$ROOT/tests/cluster/stop.sh" "$STATE" >/dev/null 2>&1 || true' EXIT

# Two namespaces with the same shape: one for irsteps, one for the script.
for ns in irsteps-side kubectl-side; do
  k create namespace "$ns" >/dev/null
  k -n "$ns" create secret generic db --from-literal=password=initial >/dev/null
  for i in $(seq 1 10); do
    k -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-$i}
spec:
  replicas: 1
  selector: {matchLabels: {app: app-$i}}
  template:
    metadata: {labels: {app: app-$i}}
    spec:
      containers:
      - {name: app, $BENCH_CONTAINER,
         env: [{name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}]}
YAML
  done
  for i in $(seq 1 10); do k -n "$ns" rollout status deployment/app-$i --timeout=120s >/dev/null; done
done

declare -a T_STEP T_SCRIPT REQUESTS
for run in $(seq 1 "$RUNS"); do
  t0=$(now_ns)
  "$BUILD/bin/rotate-secret" --incident-id INC-2026-11-26-700 --namespace irsteps-side --secret db --key password \
    --timeout 5m 2> "$STATE/rotate.log" >/dev/null
  t1=$(now_ns)
  value=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)
  k -n kubectl-side patch secret db -p "{\"stringData\":{\"password\":\"$value\"}}" >/dev/null
  for i in $(seq 1 10); do k -n kubectl-side rollout restart deployment/app-$i >/dev/null; done
  for i in $(seq 1 10); do k -n kubectl-side rollout status deployment/app-$i --timeout=300s >/dev/null; done
  t2=$(now_ns)
  T_STEP+=($((t1 - t0))); T_SCRIPT+=($((t2 - t1)))
  REQUESTS+=($(grep -c '"event":"k8s.request"' "$STATE/rotate.log"))
done
BENCH_NODE="$BENCH_NODE" python3 - "${T_STEP[*]}" "${T_SCRIPT[*]}" "${REQUESTS[*]}" <<'PY'
import statistics, sys
step, script, requests = ([int(x) for x in a.split()] for a in sys.argv[1:4])
ms = lambda ns: ns / 1e6
print(f"{len(step)} runs each, interleaved, node: {__import__('os').environ['BENCH_NODE']}; median [min-max]")
print(f"  rotate-secret, 10 consumers restarted and awaited   {ms(statistics.median(step)):8.0f} ms  [{ms(min(step)):.0f}-{ms(max(step)):.0f}]")
print(f"  kubectl patch + 10 restart + 10 status             {ms(statistics.median(script)):8.0f} ms  [{ms(min(script)):.0f}-{ms(max(script)):.0f}]")
print(f"ratio rotate-secret/script = {statistics.median(step) / statistics.median(script):.2f} (target < 1)")
print(f"API requests per rotate-secret run: median {statistics.median(requests):.0f} [{min(requests)}-{max(requests)}]")
PY
