#!/usr/bin/env bash
# Benchmark of access-audit's audit-log scan: a SIZE_MB (default 1024) audit
# log of audit.k8s.io/v1 events, generated here, in which one Secret is read
# now and then among many other requests; access-audit --offline finds those
# reads, next to `grep -F NAME | jq` doing the same selection over the same
# file in the same run. Medians of RUNS (default 3), and access-audit's peak
# RSS (constant memory: it must not grow with the file).
#
# Usage: bench/access-audit.sh [BUILD_DIR] [SIZE_MB] [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
SIZE_MB="${2:-1024}"
RUNS="${3:-3}"
WORK="${IRSTEPS_BENCH_DIR:-$BUILD/bench-audit}"
mkdir -p "$WORK"
LOG="$WORK/audit.log"
trap 'rm -f "$LOG"' EXIT

python3 - "$LOG" "$SIZE_MB" <<'PY'
import json, sys
path, size = sys.argv[1], int(sys.argv[2]) << 20
users = [f"system:serviceaccount:shop:app-{i}" for i in range(40)] + ["alice@example.com", "ci-bot"]
resources = ["pods", "configmaps", "secrets", "deployments", "events"]
with open(path, "w") as out:
    i = 0
    written = 0
    while written < size:
        hit = i % 997 == 0
        resource = "secrets" if hit else resources[i % len(resources)]
        name = "db-password" if hit else f"object-{i % 5000}"
        event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"id-{i}",
                 "stage": "ResponseComplete", "requestURI": f"/api/v1/namespaces/shop/{resource}/{name}",
                 "verb": "get", "user": {"username": users[i % len(users)], "groups": ["system:authenticated"]},
                 "sourceIPs": [f"10.0.{i % 250}.{i % 200}"], "userAgent": "kubectl/v1.32.4",
                 "objectRef": {"resource": resource, "namespace": "shop", "name": name, "apiVersion": "v1"},
                 "responseStatus": {"metadata": {}, "code": 200},
                 "requestReceivedTimestamp": f"2026-11-26T10:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}000Z",
                 "stageTimestamp": f"2026-11-26T10:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}500Z"}
        line = json.dumps(event, separators=(",", ":")) + "\n"
        out.write(line)
        written += len(line)
        i += 1
PY
bytes=$(stat -c %s "$LOG")

now_ns() { date +%s%N; }
declare -a T_STEP T_GREP RSS
for _ in $(seq 1 "$RUNS"); do
  t0=$(now_ns)
  /usr/bin/time -f %M -o "$WORK/rss.txt" "$BUILD/bin/access-audit" --incident-id INC-2026-11-26-800 --offline \
    --resource secrets/db-password --namespace shop --audit-log "$LOG" --log-level off > "$WORK/result.json"
  t1=$(now_ns)
  grep -F db-password "$LOG" | jq -c 'select(.objectRef.resource == "secrets" and .objectRef.name == "db-password"
    and .objectRef.namespace == "shop" and (.verb == "get" or .verb == "list" or .verb == "watch"))
    | {time: .requestReceivedTimestamp, user: .user.username, verb, code: .responseStatus.code}' > "$WORK/grep.json"
  t2=$(now_ns)
  T_STEP+=($((t1 - t0))); T_GREP+=($((t2 - t1))); RSS+=($(tail -1 "$WORK/rss.txt"))
done
found=$(jq -r '.outputs["access-count"] // empty' "$WORK/result.json")
expected=$(wc -l < "$WORK/grep.json")
python3 - "$bytes" "${T_STEP[*]}" "${T_GREP[*]}" "${RSS[*]}" "$found" "$expected" <<'PY'
import statistics, sys
size = int(sys.argv[1])
step, grep = ([int(x) for x in a.split()] for a in sys.argv[2:4])
rss = [int(x) for x in sys.argv[4].split()]
rate = lambda ns: size / (ns / 1e9) / 1e6
print(f"audit log {size / 1e6:.0f} MB, {len(step)} runs, median throughput:")
print(f"  access-audit --offline           {rate(statistics.median(step)):7.0f} MB/s  ({statistics.median(step) / 1e9:.2f} s)")
print(f"  grep -F NAME | jq                {rate(statistics.median(grep)):7.0f} MB/s  ({statistics.median(grep) / 1e9:.2f} s)")
print(f"ratio access-audit/grep = {statistics.median(grep) / statistics.median(step):.2f} (target >= 1)")
print(f"accesses found: access-audit {sys.argv[5] or '?'}, grep|jq {sys.argv[6]}")
print(f"access-audit peak RSS: {max(rss) / 1024:.1f} MB")
PY
