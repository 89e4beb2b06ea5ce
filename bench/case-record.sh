#!/usr/bin/env bash
# Benchmark of the case record: what --case-repo adds to a step run. The step
# is notify --dry-run (it needs no cluster and sends nothing), so the
# difference between its runs with and without --case-repo is the record:
# open the mirror, fetch, commit, push. Measured in the same run,
# interleaved: no case record (the floor); a record in a local bare
# repository; a record over git's smart HTTP (git http-backend on
# 127.0.0.1, a warm mirror); and the baseline, the same file committed and
# pushed with the git command line from an up-to-date clone (add, commit,
# push). Medians of RUNS.
#
# Usage: bench/case-record.sh [BUILD_DIR] [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
RUNS="${2:-20}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_workdir
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.test GIT_COMMITTER_NAME=bench
export GIT_COMMITTER_EMAIL=bench@example.test IRSTEPS_CACHE_DIR="$WORK/cache"

git init -q --bare -b main "$WORK/local.git"
mkdir -p "$WORK/srv"
git init -q --bare -b main "$WORK/srv/case.git"
git init -q --bare -b main "$WORK/srv/cli.git"
/usr/bin/python3 "$ROOT/tests/support/git-http-server.py" "$WORK/srv" 2> "$WORK/http.log" &
PIDS+=($!)
until grep -q listening "$WORK/http.log"; do sleep 0.1; done
PORT=$(awk '/listening/ {print $3}' "$WORK/http.log")
git clone -q "http://127.0.0.1:$PORT/cli.git" "$WORK/cli" 2>/dev/null
(cd "$WORK/cli" && git commit -q --allow-empty -m start && git push -q origin HEAD:main)

echo hook-secret > "$WORK/secret"
cat > "$WORK/routing.yaml" <<YAML
channels:
  - {name: hook, type: webhook, url: 'https://127.0.0.1:9/hook', secret-file: $WORK/secret}
YAML
NOTIFY=("$BUILD/bin/notify" --routing "$WORK/routing.yaml" --severity low --title bench --summary bench
  --impact none --current-actions none --contact bench --dry-run)

declare -a T_NONE T_LOCAL T_HTTP T_CLI
for run in $(seq 1 "$RUNS"); do
  id=$(printf 'INC-2026-11-26-%03d' "$run")
  t0=$(now_ns)
  "${NOTIFY[@]}" --incident-id "$id" >/dev/null 2>&1
  t1=$(now_ns)
  "${NOTIFY[@]}" --incident-id "$id" --case-repo "$WORK/local.git" > "$WORK/out.json" 2>/dev/null
  t2=$(now_ns)
  "${NOTIFY[@]}" --incident-id "$id" --case-repo "http://127.0.0.1:$PORT/case.git" > "$WORK/out.json" 2>/dev/null
  t3=$(now_ns)
  cp "$WORK/out.json" "$WORK/cli/record-$run.json"
  (cd "$WORK/cli" && git add "record-$run.json" && git commit -q -m "$id: record" && git push -q origin HEAD:main)
  t4=$(now_ns)
  T_NONE+=($((t1 - t0))); T_LOCAL+=($((t2 - t1))); T_HTTP+=($((t3 - t2))); T_CLI+=($((t4 - t3)))
done
# Every record landed: one commit per run in each repository.
[[ $(git -C "$WORK/local.git" rev-list --count main) == "$RUNS" ]] || { echo "records missing (local)"; exit 1; }
[[ $(git -C "$WORK/srv/case.git" rev-list --count main) == "$RUNS" ]] || { echo "records missing (http)"; exit 1; }
/usr/bin/python3 - "${T_NONE[*]}" "${T_LOCAL[*]}" "${T_HTTP[*]}" "${T_CLI[*]}" <<'PY'
import statistics, sys
none, local, http, cli = ([int(x) / 1e6 for x in a.split()] for a in sys.argv[1:5])
m = statistics.median
row = lambda name, xs: print(f"  {name:<62} {m(xs):7.1f} ms  [{min(xs):.1f}-{max(xs):.1f}]")
print(f"{len(none)} runs each, interleaved; median [min-max]")
row("notify --dry-run, no case record (the floor)", none)
row("notify --dry-run --case-repo PATH (bare repository)", local)
row("notify --dry-run --case-repo http://127.0.0.1 (git http-backend)", http)
row("baseline: git add + commit + push over HTTP from a clone", cli)
print(f"record cost, local: {m(local) - m(none):.1f} ms; over HTTP: {m(http) - m(none):.1f} ms")
print(f"record over HTTP / git command line = {(m(http) - m(none)) / m(cli):.2f}")
PY
