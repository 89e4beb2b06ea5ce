#!/usr/bin/env bash
# The README's main job: a local Kubernetes control plane, a sample shop
# whose "web" pod plays the compromised application, and the
# container-compromise playbook (workflows/argo/playbooks/) run from end to
# end by the local `playbook` runner — the same WorkflowTemplate Argo runs:
# isolate, snapshot and the initial notification in parallel, the approval
# gate (approved here), eradication and the persistence check, the restart,
# the status update and the post-incident report built from the case record.
# Notifications go to a local HTTPS receiver; the case record to a local git
# repository.
#
# Usage: scripts/demo.sh [BUILD_DIR]   (make demo builds first)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
STATE="${IRSTEPS_DEMO_DIR:-$BUILD/demo}"
CLUSTER="$STATE/cluster"
INCIDENT="INC-$(date -u +%Y-%m-%d)-001"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$ROOT/tests/cluster/stop.sh" "$CLUSTER" >/dev/null 2>&1 || true
}

"$ROOT/tests/cluster/build-control-plane.sh" >/dev/null
"$ROOT/tests/cluster/build-node-agent.sh" "$STATE/node-agent" >/dev/null
"$ROOT/tests/cluster/stop.sh" "$CLUSTER" >/dev/null 2>&1 || true
rm -rf "$STATE/evidence" "$STATE/case.git" "$STATE/notify" "$STATE/received" "$STATE/work"
mkdir -p "$STATE/evidence" "$STATE/notify" "$STATE/received" "$STATE/empty"
say "Starting a local Kubernetes control plane in $CLUSTER"
IRSTEPS_NODE_AGENT="$STATE/node-agent" "$ROOT/tests/cluster/start.sh" "$CLUSTER" | tail -1
trap cleanup EXIT
export KUBECONFIG="$CLUSTER/kubeconfig"
kubectl() { command kubectl --kubeconfig "$KUBECONFIG" "$@" 2>/dev/null; }

say "A sample shop: Deployment web (3 replicas) behind a Service"
kubectl create namespace shop >/dev/null
kubectl -n shop create deployment web --image=registry.example/shop/web:1.4 --replicas=3 >/dev/null
kubectl -n shop expose deployment web --port 80 >/dev/null
for _ in $(seq 1 60); do
  [[ $(kubectl -n shop get pods -l app=web --field-selector=status.phase=Running -o name | wc -l) -eq 3 ]] && break
  sleep 0.5
done
kubectl -n shop get pods -o wide
POD=$(kubectl -n shop get pods -l app=web -o jsonpath='{.items[0].metadata.name}')

say "The security team's channels: an HTTPS receiver on 127.0.0.1 (a Slack webhook and a signed webhook)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=demo-ca \
  -keyout "$STATE/notify/ca.key" -out "$STATE/notify/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$STATE/notify/server.key" -out "$STATE/notify/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$STATE/notify/ext"
openssl x509 -req -in "$STATE/notify/server.csr" -CA "$STATE/notify/ca.pem" -CAkey "$STATE/notify/ca.key" \
  -CAcreateserial -days 1 -extfile "$STATE/notify/ext" -out "$STATE/notify/server.pem" 2>/dev/null
/usr/bin/python3 "$ROOT/tests/support/https-receiver.py" "$STATE/notify/server.pem" "$STATE/notify/server.key" \
  "$STATE/notify/port" --record "$STATE/received" &
PIDS+=($!)
until [[ -s "$STATE/notify/port" ]]; do sleep 0.1; done
PORT=$(cat "$STATE/notify/port")
echo "https://127.0.0.1:$PORT/services/T000/B000/demo" > "$STATE/notify/slack-url"
head -c 24 /dev/urandom | base64 > "$STATE/notify/webhook-secret"
cat > "$STATE/notify/routing.yaml" <<YAML
defaults: {ca-file: $STATE/notify/ca.pem}
channels:
  - {name: security-slack, type: slack, url-file: $STATE/notify/slack-url}
  - {name: siem, type: webhook, url: 'https://127.0.0.1:$PORT/siem', secret-file: $STATE/notify/webhook-secret}
YAML
cat "$STATE/notify/routing.yaml"

say "The case record: a git repository ($STATE/case.git)"
git init -q --bare -b main "$STATE/case.git"

say "Falco says $POD is compromised ($INCIDENT): the container-compromise playbook, run by playbook"
set +e
"$BUILD/bin/playbook" run irsteps-container-compromise --templates "$ROOT/workflows/argo" --bin-dir "$BUILD/bin" \
  -p incident-id="$INCIDENT" -p namespace=shop -p pod="$POD" -p workload=deployment/web -p severity=critical \
  -p title="Crypto miner in shop/web" -p summary="Falco: a shell spawned in $POD ran a crypto miner" \
  -p impact="The shop's web tier; no data access seen yet" -p contact="Alice (incident commander)" \
  -p case-repo="$STATE/case.git" -p detected-at="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --mount /etc/irsteps/notify="$STATE/notify" --mount /var/run/secrets/irsteps/notify="$STATE/notify" \
  --mount /var/run/secrets/irsteps/case-repo="$STATE/empty" --mount /evidence="$STATE/evidence" \
  --work-dir "$STATE/work" --artifact-dir "$STATE/artifacts" --approve-all > "$STATE/playbook-result.json"
status=$?
set -e
jq -r '"phase: \(.phase)"' "$STATE/playbook-result.json" 2>/dev/null || cat "$STATE/playbook-result.json"
[[ $status -eq 0 ]] || { echo "the playbook failed (exit $status): $STATE/playbook-result.json"; exit "$status"; }

say "The cluster now: the compromised pod is gone, the workload was restarted, the quarantine policy stays"
kubectl -n shop get pods -L irsteps.io/quarantine
kubectl -n shop get networkpolicy

say "The post-incident report, as the security team received it"
report=$(ls "$STATE/received"/*-siem.json | tail -1)
jq -r '.subject, "", .text' "$report"

say "Where everything is"
echo "evidence (hashed, with manifest.json):  $STATE/evidence/$INCIDENT"
echo "its copy in the artifact repository:     $STATE/artifacts/$(cd "$STATE/artifacts" && ls -d -- */*.tgz 2>/dev/null | head -1)"
echo "case record (one commit per step):       $STATE/case.git"
git -C "$STATE/case.git" log --format='  %h %an: %s' main
echo "notifications received:                  $STATE/received ($(ls "$STATE/received" | wc -l) messages)"
echo "the playbook's result document:          $STATE/playbook-result.json"
