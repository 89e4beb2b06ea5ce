#!/usr/bin/env bash
# Benchmark of isolate for one pod, as a whole process, against the local
# control plane, next to what a responder would otherwise run in the same
# session on the same server:
#   - kubectl: `kubectl label pod` + `kubectl apply -f policy.yaml`;
#   - curl: the same two requests over one connection (the floor: what the
#     API server itself costs).
# Each run targets a fresh pod and a fresh incident, so every run does the
# full work (label, create policy, event) rather than a no-op re-run.
# Also: `isolate --version` start-up time, peak RSS, API requests per run.
#
# Usage: bench/isolate.sh [BUILD_DIR] [RUNS]   (make bench)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
RUNS="${2:-25}"
STATE="${IRSTEPS_BENCH_DIR:-$BUILD/bench-cluster}"
ISOLATE="$BUILD/bin/isolate"

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
start_bench_cluster "$ROOT" "$STATE"
trap '"$ROOT/tests/cluster/stop.sh" "$STATE" >/dev/null 2>&1 || true' EXIT
# shellcheck source=/dev/null
source "$STATE/env.sh"

k create namespace bench >/dev/null
k -n bench create deployment web --image=registry.example/web:1 --replicas=$((3 * RUNS + 1)) >/dev/null
for _ in $(seq 1 120); do
  [[ $(k -n bench get pods --field-selector=status.phase=Running -o name | wc -l) -ge $((3 * RUNS)) ]] && break
  sleep 0.5
done
mapfile -t PODS < <(k -n bench get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')

policy_yaml() { # policy_yaml INCIDENT
  local lower="${1,,}"
  cat <<YAML
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: irsteps-isolate-$lower, namespace: bench}
spec:
  podSelector: {matchLabels: {irsteps.io/quarantine: $1}}
  policyTypes: [Ingress, Egress]
YAML
}

declare -a T_ISOLATE T_KUBECTL T_CURL
for i in $(seq 0 $((RUNS - 1))); do
  # Interleaved, so that drift in the machine's load hits all three alike.
  inc_a=$(printf 'INC-2026-11-26-%03d' $((100 + i)))
  inc_b=$(printf 'INC-2026-11-26-%03d' $((300 + i)))
  inc_c=$(printf 'INC-2026-11-26-%03d' $((500 + i)))
  pod_a=${PODS[$((3 * i))]} pod_b=${PODS[$((3 * i + 1))]} pod_c=${PODS[$((3 * i + 2))]}
  policy_yaml "$inc_b" > "$STATE/policy-$i.yaml"

  t0=$(now_ns)
  "$ISOLATE" --incident-id "$inc_a" --namespace bench --pod "$pod_a" --log-level off >/dev/null
  t1=$(now_ns)
  k -n bench label pod "$pod_b" "irsteps.io/quarantine=$inc_b" >/dev/null
  k apply -f "$STATE/policy-$i.yaml" >/dev/null
  t2=$(now_ns)
  lower="${inc_c,,}"
  curl -sS -o /dev/null --cacert "$IRSTEPS_API_CA" -H "Authorization: Bearer $(cat "$IRSTEPS_API_TOKEN_FILE")" \
    -X PATCH -H 'Content-Type: application/merge-patch+json' \
    -d "{\"metadata\":{\"labels\":{\"irsteps.io/quarantine\":\"$inc_c\"}}}" \
    "$IRSTEPS_API_URL/api/v1/namespaces/bench/pods/$pod_c" \
    --next -sS -o /dev/null --cacert "$IRSTEPS_API_CA" -H "Authorization: Bearer $(cat "$IRSTEPS_API_TOKEN_FILE")" \
    -X POST -H 'Content-Type: application/json' \
    -d "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"irsteps-isolate-$lower\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"irsteps.io/quarantine\":\"$inc_c\"}},\"policyTypes\":[\"Ingress\",\"Egress\"]}}" \
    "$IRSTEPS_API_URL/apis/networking.k8s.io/v1/namespaces/bench/networkpolicies"
  t3=$(now_ns)
  T_ISOLATE+=($(((t1 - t0) / 1000)))
  T_KUBECTL+=($(((t2 - t1) / 1000)))
  T_CURL+=($(((t3 - t2) / 1000)))
done

declare -a T_VERSION
for _ in $(seq 1 50); do
  t0=$(now_ns); "$ISOLATE" --version >/dev/null; t1=$(now_ns)
  T_VERSION+=($(((t1 - t0) / 1000)))
done

# One more isolate run for the request count and the peak RSS.
extra_pod=${PODS[$((3 * RUNS))]}
/usr/bin/time -f '%M' -o "$STATE/rss.txt" "$ISOLATE" --incident-id INC-2026-11-26-999 --namespace bench \
  --pod "$extra_pod" 2> "$STATE/isolate.log" >/dev/null
rss_kb=$(tail -1 "$STATE/rss.txt")
/usr/bin/time -f '%M' -o "$STATE/rss-version.txt" "$ISOLATE" --version >/dev/null
rss_version_kb=$(tail -1 "$STATE/rss-version.txt")
requests=$(grep -c '"event":"k8s.request"' "$STATE/isolate.log")
writes=$(grep '"event":"k8s.request"' "$STATE/isolate.log" | grep -vc '"method":"GET"')

python3 - "$RUNS" "$requests" "$writes" "$rss_kb" "$rss_version_kb" \
  "${T_ISOLATE[*]}" "${T_KUBECTL[*]}" "${T_CURL[*]}" "${T_VERSION[*]}" <<'PY'
import statistics, sys
runs, requests, writes, rss, rss_version = sys.argv[1:6]
isolate, kubectl, curl, version = ([int(x) / 1000 for x in arg.split()] for arg in sys.argv[6:10])
m = {name: statistics.median(v) for name, v in
     (("isolate", isolate), ("kubectl", kubectl), ("curl", curl), ("version", version))}
print(f"runs per variant: {runs} (interleaved), times in ms, median [min-max]")
for name, values in (("isolate (one pod, read-back included)", isolate),
                     ("kubectl label + kubectl apply", kubectl),
                     ("curl, same two requests, one connection", curl),
                     ("isolate --version (50 runs)", version)):
    print(f"  {name:42} {statistics.median(values):8.1f}  [{min(values):.1f}-{max(values):.1f}]")
print(f"ratios: isolate/curl = {m['isolate'] / m['curl']:.2f} (target <= 2), "
      f"isolate/kubectl = {m['isolate'] / m['kubectl']:.3f} (target <= 0.167)")
print(f"API requests per isolate run: {requests} in all, {writes} of them writes "
      f"(the rest: read-back and the network-plugin check)")
print(f"peak RSS: isolate {int(rss) / 1024:.1f} MB, isolate --version {int(rss_version) / 1024:.1f} MB")
PY
