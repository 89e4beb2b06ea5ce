#!/usr/bin/env bash
# The README's main job, as far as the steps exist today: a local Kubernetes
# control plane, a sample shop whose "web" pod plays the compromised
# application, and the container-compromise playbook's first action, isolate,
# run for real — dry run first, then isolation, read-back and release.
#
# Usage: scripts/demo.sh [BUILD_DIR]   (make demo builds first)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
STATE="${IRSTEPS_DEMO_DIR:-$BUILD/demo-cluster}"
INCIDENT="INC-$(date -u +%Y-%m-%d)-001"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

"$ROOT/tests/cluster/build-control-plane.sh" >/dev/null
"$ROOT/tests/cluster/build-node-agent.sh" "$(dirname "$STATE")/node-agent" >/dev/null
"$ROOT/tests/cluster/stop.sh" "$STATE" >/dev/null 2>&1 || true
say "Starting a local Kubernetes control plane in $STATE"
"$ROOT/tests/cluster/start.sh" "$STATE" | tail -1
trap '"$ROOT/tests/cluster/stop.sh" "$STATE" >/dev/null 2>&1 || true' EXIT
export KUBECONFIG="$STATE/kubeconfig"
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

say "Falco says $POD is compromised ($INCIDENT). Dry run first: what would isolate do?"
"$BUILD/bin/isolate" --incident-id "$INCIDENT" --namespace shop --pod "$POD" --detach --allow-dns \
  --dry-run --log-level warn | jq -r '.actions[] | "  would \(.verb) \(.target.kind) \(.target.name)"'

say "Isolate it: quarantine label, deny-all NetworkPolicy (DNS allowed), detached from its ReplicaSet"
"$BUILD/bin/isolate" --incident-id "$INCIDENT" --namespace shop --pod "$POD" --detach --allow-dns \
  --log-format text --log-level warn --outputs-dir "$STATE/outputs" > "$STATE/isolate-result.json"
jq '{status, actions: [.actions[] | "\(.verb) \(.target.kind)/\(.target.name)"], outputs, warnings}' "$STATE/isolate-result.json"

say "The cluster now: the pod stays for forensics, its replacement serves traffic"
kubectl -n shop get pods -L irsteps.io/quarantine,app
kubectl -n shop get networkpolicy
kubectl -n shop get events --field-selector reason=Isolated -o custom-columns=POD:.involvedObject.name,REASON:.reason,MESSAGE:.message

say "Release (after the evidence is taken): undo exactly what isolate did"
"$BUILD/bin/isolate" --incident-id "$INCIDENT" --namespace shop --release --log-level warn \
  | jq '{status, outputs, warnings}'
kubectl -n shop get networkpolicy 2>&1 | sed 's/^/  /'
say "Done. The result documents are in $STATE (isolate-result.json, outputs/)."
