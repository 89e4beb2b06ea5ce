#!/usr/bin/env bash
# Benchmark of notify's fan-out: five channels (Slack, PagerDuty, Teams, a
# signed webhook over HTTPS, e-mail over SMTP with STARTTLS and AUTH) whose
# receivers on 127.0.0.1 each hold every answer 200 ms. Sent concurrently,
# the run should take about the slowest channel, not the sum. Measured in the
# same run, interleaved: notify to all five; notify to one channel (the
# floor: start-up plus one slow receiver); and the five requests one after
# another with curl (the sum a sequential script pays). Medians of RUNS.
#
# Usage: bench/notify.sh [BUILD_DIR] [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
RUNS="${2:-15}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_workdir
PY=/usr/bin/python3  # Debian's, which has python3-aiosmtpd

# A CA and a certificate for 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$WORK/server.key" -out "$WORK/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$WORK/ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 1 \
  -extfile "$WORK/ext" -out "$WORK/server.pem" 2>/dev/null

# Four HTTPS receivers, 200 ms per answer, each on its own port.
declare -A PORT
for name in slack pagerduty teams webhook; do
  status=200; [[ $name == pagerduty || $name == teams ]] && status=202
  $PY "$ROOT/tests/support/https-receiver.py" "$WORK/server.pem" "$WORK/server.key" "$WORK/$name.port" \
    --status "$status" --delay-ms 200 &
  PIDS+=($!)
done
mkdir -p "$WORK/mail"
$PY "$ROOT/tests/support/smtp_server.py" --record "$WORK/mail" --cert "$WORK/server.pem" --key "$WORK/server.key" \
  --user bench --password bench-password --delay-ms 200 2> "$WORK/smtp.log" &
PIDS+=($!)
for name in slack pagerduty teams webhook; do
  until [[ -s "$WORK/$name.port" ]]; do sleep 0.1; done
  PORT[$name]=$(cat "$WORK/$name.port")
done
until grep -q listening "$WORK/smtp.log"; do sleep 0.1; done
PORT[smtp]=$(awk '/listening/ {print $2}' "$WORK/smtp.log")

export BENCH_SLACK_URL="https://127.0.0.1:${PORT[slack]}/services/T/B/bench"
export BENCH_TEAMS_URL="https://127.0.0.1:${PORT[teams]}/workflows/1/invoke?sig=bench"
export BENCH_PD_KEY=bench-routing-key BENCH_SMTP_PASSWORD=bench-password
echo bench-hmac-secret > "$WORK/hook-secret"
cat > "$WORK/routing.yaml" <<YAML
defaults: {ca-file: $WORK/ca.pem}
channels:
  - {name: slack, type: slack, url-env: BENCH_SLACK_URL}
  - {name: pagerduty, type: pagerduty, routing-key-env: BENCH_PD_KEY, url: 'https://127.0.0.1:${PORT[pagerduty]}/v2/enqueue'}
  - {name: teams, type: teams, url-env: BENCH_TEAMS_URL}
  - {name: webhook, type: webhook, url: 'https://127.0.0.1:${PORT[webhook]}/hook', secret-file: $WORK/hook-secret}
  - {name: email, type: email, host: 127.0.0.1, port: ${PORT[smtp]}, username: bench, password-env: BENCH_SMTP_PASSWORD,
     from: bench@example.com, to: [ciso@example.com]}
YAML

NOTIFY=("$BUILD/bin/notify" --incident-id INC-2026-11-26-900 --routing "$WORK/routing.yaml" --severity critical
  --title "bench" --summary "fan-out benchmark" --impact none --current-actions none --contact bench)
body='{"text":"bench"}'
declare -a T_ALL T_ONE T_SEQ
for run in $(seq 1 "$RUNS"); do
  t0=$(now_ns)
  "${NOTIFY[@]}" >/dev/null 2>"$WORK/all.log" || { cat "$WORK/all.log"; exit 1; }
  t1=$(now_ns)
  "${NOTIFY[@]}" --channel webhook >/dev/null 2>&1
  t2=$(now_ns)
  for url in "$BENCH_SLACK_URL" "https://127.0.0.1:${PORT[pagerduty]}/v2/enqueue" "$BENCH_TEAMS_URL" \
             "https://127.0.0.1:${PORT[webhook]}/hook"; do
    curl -sS --cacert "$WORK/ca.pem" -H 'Content-Type: application/json' -d "$body" "$url" >/dev/null
  done
  curl -sS --cacert "$WORK/ca.pem" --ssl-reqd --url "smtp://127.0.0.1:${PORT[smtp]}" --user bench:bench-password \
    --mail-from bench@example.com --mail-rcpt ciso@example.com -T - >/dev/null <<<"Subject: bench

bench"
  t3=$(now_ns)
  T_ALL+=($((t1 - t0))); T_ONE+=($((t2 - t1))); T_SEQ+=($((t3 - t2)))
done
$PY - "${T_ALL[*]}" "${T_ONE[*]}" "${T_SEQ[*]}" <<'PY'
import statistics, sys
all_, one, seq = ([int(x) / 1e6 for x in a.split()] for a in sys.argv[1:4])
row = lambda name, xs: print(f"  {name:<58} {statistics.median(xs):7.0f} ms  [{min(xs):.0f}-{max(xs):.0f}]")
print(f"{len(all_)} runs each, interleaved; median [min-max]; every receiver holds each answer 200 ms")
row("notify, 5 channels (Slack, PagerDuty, Teams, webhook, SMTP)", all_)
row("notify, 1 channel (webhook): the floor", one)
row("curl, the same 5 requests one after another", seq)
print(f"notify 5 channels / 1 channel = {statistics.median(all_) / statistics.median(one):.2f} (target: close to 1)")
print(f"notify 5 channels / sequential = {statistics.median(all_) / statistics.median(seq):.2f}")
PY
