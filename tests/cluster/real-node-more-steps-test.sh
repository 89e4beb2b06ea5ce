#!/usr/bin/env bash
# More step images as pods on a real node (start.sh --node real), like
# real-node-steps-test.sh: the pod spec the WorkflowTemplate gives each
# (workflows/argo/steps.yaml: command, args, env, securityContext, resources,
# volumes), the shipped ServiceAccount and RBAC (workflows/argo/rbac/), the
# API server from KUBERNETES_SERVICE_HOST/PORT and the mounted token, and
# hostNetwork (the API server, the registry and the webhook receiver listen
# on 127.0.0.1 only).
#
# Checked:
# - `access-audit`: who could read a Secret (a ServiceAccount bound by a
#   Role, with the pod that runs as it, and the API server's
#   SubjectAccessReviews agreeing), and who did: the cluster's own audit
#   log (the fixture starts it with --audit) with that ServiceAccount's
#   real read, given where Argo puts the input artifact audit-log.
# - `verify-image` against Debian's docker-registry on 127.0.0.1 and the
#   test Sigstore (tests/support/sigstore-sign.py), its trusted root in the
#   ConfigMap irsteps-trust as the template mounts it: a signed image is
#   verified; an unsigned one is rejected (exit 3, the pod fails); a
#   signature moved onto another image is rejected, and with
#   fail-on-reject=false the step succeeds with the verdict as its output.
# - `notify` to a signed webhook (tests/support/https-receiver.py over TLS
#   with the test's CA), the routing file from the ConfigMap
#   irsteps-notify-routing and the URL and signing secret from the Secret
#   irsteps-notify as the template mounts them: the message arrives at the
#   secret URL with a valid signature, and neither secret is in the pod's
#   log or its outputs.
# - `cordon` on the real node (named 127.0.0.1) of a target pod: taint,
#   unschedulable and annotations read back, a new pod stays unscheduled;
#   `--release` (run with tolerations, since the only node is cordoned)
#   restores the node exactly and the waiting pod is scheduled. The node is
#   shared with the other real-node tests: the cleanup releases it even when
#   the test fails.
# - `block-image` with Kyverno's ClusterPolicy CRD installed (its release
#   manifest, tests/data/crds/kyverno): the step finds the engine through
#   the API server's discovery from inside the pod, writes the policy that
#   refuses the digest, and `--release` deletes exactly it. (Nothing runs
#   Kyverno's webhook here: what is checked is what the step writes.)
#
# Usage: real-node-more-steps-test.sh STATE_DIR BIN_DIR
#   BIN_DIR: the build's bin folder (the step binaries the images are made of)
# Last line: "real-node-more-steps: N passed, N failed"; exit status 1 if
# anything failed or a tool is missing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE_DIR="$(cd "$HERE/../.." && pwd)"
_log_prefix=real-node-more-steps
# shellcheck source=lib.sh
source "$HERE/lib.sh"
real_node_test_args "$@"
for t in jq openssl; do command -v "$t" >/dev/null || die "$t missing"; done
WORK="$(mktemp -d /tmp/real-node-more-steps.XXXXXX)"
# shellcheck source=step-pods.sh
source "$HERE/step-pods.sh"

NS="victim-$RANDOM"
NODE=127.0.0.1
today="$(date -u +%Y-%m-%d)"
incident() { printf 'INC-%s-%03d' "$today" $((RANDOM % 1000)); }
CORDON_INCIDENT="$(incident)"
BLOCK_INCIDENT="$(incident)"
PIDS=()
IMAGES_PID=""

# The node goes back to how it was if the test left it cordoned: the
# incident's annotation, the taint, and the cordon if irsteps made it.
release_node() {
  local annotations
  annotations="$(k get node "$NODE" -o json 2>/dev/null | jq -r '.metadata.annotations // {} | keys[]')" || return 0
  grep -qx "cordon.irsteps.io/$CORDON_INCIDENT" <<<"$annotations" || return 0
  log "the node is still cordoned for $CORDON_INCIDENT: releasing it"
  if grep -qx irsteps.io/cordoned <<<"$annotations"; then k uncordon "$NODE" >/dev/null 2>&1 || true; fi
  k taint node "$NODE" irsteps.io/quarantine:NoSchedule- >/dev/null 2>&1 || true
  k annotate node "$NODE" "cordon.irsteps.io/$CORDON_INCIDENT-" irsteps.io/cordoned- >/dev/null 2>&1 || true
}
cleanup() {
  release_node
  local pid f
  for pid in "${PIDS[@]}" ${IMAGES_PID:+"$IMAGES_PID"}; do kill "$pid" 2>/dev/null || true; done
  [[ -z "${IMAGES_PID:-}" ]] || wait "$IMAGES_PID" 2>/dev/null || true
  # What this test made in irsteps, not the namespace: a namespace being
  # deleted refuses new objects, and the other real-node tests may come next.
  k -n irsteps delete pod access-audit-step verify-signed verify-unsigned verify-moved notify-step cordon-step \
    cordon-release block-image-step block-release --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k delete clusterpolicies.kyverno.io -l "irsteps.io/incident=$BLOCK_INCIDENT" --wait=false >/dev/null 2>&1 || true
  k delete crd clusterpolicies.kyverno.io --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k -n irsteps delete secret irsteps-notify irsteps-registry --ignore-not-found >/dev/null 2>&1 || true
  k -n irsteps delete configmap irsteps-trust irsteps-notify-routing --ignore-not-found >/dev/null 2>&1 || true
  k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  for f in access-audit cordon block-image; do
    k delete -f "$SOURCE_DIR/workflows/argo/rbac/$f.yaml" --wait=false >/dev/null 2>&1 || true
  done
  step_images_clean
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# ---- images and fixtures ------------------------------------------------------
# The four images build while the fixtures are made: the builds take the
# CPU, the rest mostly waits for the API server.
(
  for step in access-audit verify-image notify cordon block-image; do step_image "$step" >"$WORK/$step.image"; done
) >"$WORK/images.log" 2>&1 &
IMAGES_PID=$!
namespace_ready irsteps
k create namespace "$NS" >/dev/null
k apply -f "$SOURCE_DIR/workflows/argo/rbac/access-audit.yaml" -f "$SOURCE_DIR/workflows/argo/rbac/cordon.yaml" \
  -f "$SOURCE_DIR/workflows/argo/rbac/block-image.yaml" >/dev/null
# Kyverno's ClusterPolicy CRD, as its release ships it (created, not applied:
# it is bigger than the last-applied annotation may be).
k delete crd clusterpolicies.kyverno.io --ignore-not-found --wait >/dev/null  # a crashed earlier run's
python3 -c 'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))' \
  "$SOURCE_DIR/tests/data/crds/kyverno/kyverno.io_clusterpolicies.yaml" | k create -f - >/dev/null
chmod 755 "$WORK"

# access-audit: the Secret, who may read it (ServiceAccount app, by a Role
# naming it), a pod that runs as app, and another ServiceAccount bound to
# nothing.
k -n "$NS" create secret generic db-password --from-literal=password=hunter2 >/dev/null
k -n "$NS" create serviceaccount app >/dev/null
k -n "$NS" create serviceaccount other >/dev/null
k -n "$NS" create role db-reader --verb=get --resource=secrets --resource-name=db-password >/dev/null
k -n "$NS" create rolebinding db-reader --role=db-reader --serviceaccount="$NS:app" >/dev/null
account_ready "$NS" app
account_ready "$NS" default
k -n "$NS" run app --image="$IRSTEPS_BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never \
  --overrides='{"spec":{"serviceAccountName":"app","terminationGracePeriodSeconds":1}}' --command -- sleep 3600 >/dev/null

# ...and app reads it with its own token: the access the audit log records.
app_token="$(k -n "$NS" get secret "$(k -n "$NS" get serviceaccount app -o jsonpath='{.secrets[0].name}')" \
  -o jsonpath='{.data.token}' | base64 -d)"
kubectl --request-timeout=30s --token="$app_token" -n "$NS" get secret db-password -o name >/dev/null
[[ -n "${IRSTEPS_AUDIT_LOG:-}" && -f "$IRSTEPS_AUDIT_LOG" ]] || die "the cluster has no audit log (start.sh --audit)"
mkdir -p "$WORK/audit"
for _ in $(seq 1 40); do
  grep -q "\"system:serviceaccount:$NS:app\".*\"db-password\"" "$IRSTEPS_AUDIT_LOG" && break
  sleep 0.25
done
# What Argo's executor would put at the artifact's path: the log as it was.
cp "$IRSTEPS_AUDIT_LOG" "$WORK/audit/audit.log"
chmod -R a+rX "$WORK/audit"

# verify-image: the registry, the test Sigstore and three images.
# The registry wants a login, which the pods find in the Secret
# irsteps-registry the template mounts, made as `kubectl create secret
# docker-registry` makes one (key .dockerconfigjson).
REGISTRY_PASSWORD="$(openssl rand -hex 12)"
export OCI_LOGIN="ci:$REGISTRY_PASSWORD"
REGISTRY="$(start_registry "$WORK/registry" "$OCI_LOGIN")"
PIDS+=("$(cat "$WORK/registry/pid")")
k -n irsteps create secret docker-registry irsteps-registry --docker-server="$REGISTRY" --docker-username=ci \
  --docker-password="$REGISTRY_PASSWORD" >/dev/null
mkdir -p "$WORK/sigstore"
python3 "$SOURCE_DIR/tests/support/sigstore-sign.py" init "$WORK/sigstore"
IDENTITY="https://github.com/irsteps/irsteps/.github/workflows/release.yml@refs/tags/v$VERSION"
ISSUER=https://token.actions.githubusercontent.com
SIGNED="$(oci_push "$REGISTRY" shop/web 1)"
UNSIGNED="$(oci_push "$REGISTRY" shop/web 2)"
MOVED="$(oci_push "$REGISTRY" shop/web 3)"
oci_sign "$REGISTRY" shop/web "$SIGNED" "$WORK/sigstore" "$IDENTITY" "$ISSUER"
oci_sign "$REGISTRY" shop/web "$SIGNED" "$WORK/sigstore" "$IDENTITY" "$ISSUER" "$MOVED"
k -n irsteps create configmap irsteps-trust --from-file=trusted_root.json="$WORK/sigstore/trusted_root.json" >/dev/null

# notify: a TLS webhook receiver with the test's CA; its URL (with a token
# in the path) and the signing secret in the Secret irsteps-notify.
mkdir -p "$WORK/notify" "$WORK/received"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=irsteps-test-ca \
  -keyout "$WORK/notify/ca.key" -out "$WORK/notify/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$WORK/notify/server.key" -out "$WORK/notify/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$WORK/notify/ext"
openssl x509 -req -in "$WORK/notify/server.csr" -CA "$WORK/notify/ca.pem" -CAkey "$WORK/notify/ca.key" \
  -CAcreateserial -days 1 -extfile "$WORK/notify/ext" -out "$WORK/notify/server.pem" 2>/dev/null
python3 "$SOURCE_DIR/tests/support/https-receiver.py" "$WORK/notify/server.pem" "$WORK/notify/server.key" \
  "$WORK/notify/port" --record "$WORK/received" --headers &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$WORK/notify/port" ]] && break; sleep 0.1; done
[[ -s "$WORK/notify/port" ]] || die "the webhook receiver did not start"
HOOK_TOKEN="$(openssl rand -hex 16)"
HMAC_SECRET="$(openssl rand -hex 24)"
k -n irsteps create secret generic irsteps-notify \
  --from-literal=url="https://127.0.0.1:$(cat "$WORK/notify/port")/hooks/$HOOK_TOKEN" \
  --from-literal=hmac="$HMAC_SECRET" >/dev/null
cat >"$WORK/notify/routing.yaml" <<EOF
defaults: {ca-file: /etc/irsteps/notify/ca.pem}
channels:
  - {name: siem, type: webhook, url-file: /var/run/secrets/irsteps/notify/url,
     secret-file: /var/run/secrets/irsteps/notify/hmac}
EOF
k -n irsteps create configmap irsteps-notify-routing --from-file=routing.yaml="$WORK/notify/routing.yaml" \
  --from-file=ca.pem="$WORK/notify/ca.pem" >/dev/null

# ---- the pods -------------------------------------------------------------------
images_built=0
wait "$IMAGES_PID" || images_built=$?
IMAGES_PID=""
[[ $images_built == 0 ]] || { tail -n 20 "$WORK/images.log" >&2; die "the step images did not build"; }
AUDIT_IMAGE="$(cat "$WORK/access-audit.image")"
VERIFY_IMAGE="$(cat "$WORK/verify-image.image")"
NOTIFY_IMAGE="$(cat "$WORK/notify.image")"
CORDON_IMAGE="$(cat "$WORK/cordon.image")"
account_ready irsteps irsteps-access-audit
account_ready irsteps default
k -n "$NS" wait --for=condition=Ready pod/app --timeout=90s >/dev/null
AUDIT_INCIDENT="$(incident)"
STEP_POD_HOSTPATH="$WORK/audit:/var/run/irsteps/audit-log" step_pod access-audit "$AUDIT_IMAGE" irsteps \
  irsteps-access-audit "incident-id=$AUDIT_INCIDENT" resource=secrets/db-password "namespace=$NS" \
  >"$WORK/access-audit-pod.json"
verify_pod() {  # NAME IMAGE [NAME=VALUE...]
  local name="$1" image="$2"
  shift 2
  step_pod verify-image "$VERIFY_IMAGE" irsteps default "image=$image" "certificate-identity=$IDENTITY" \
    "certificate-oidc-issuer=$ISSUER" trusted-root=/etc/irsteps/trust/trusted_root.json \
    allow-http-registry=true "$@" | pod_renamed "$name" >"$WORK/$name-pod.json"
}
verify_pod verify-signed "$REGISTRY/shop/web:1"
verify_pod verify-unsigned "$REGISTRY/shop/web:2"
verify_pod verify-moved "$REGISTRY/shop/web:3" fail-on-reject=false
NOTIFY_INCIDENT="$(incident)"
step_pod notify "$NOTIFY_IMAGE" irsteps default "incident-id=$NOTIFY_INCIDENT" severity=critical \
  "title=Crypto miner in $NS/app" "summary=A shell in $NS/app ran a miner" "impact=The shop's web tier" \
  "current-actions=pod isolated" "contact=Alice (IC)" >"$WORK/notify-pod.json"
k apply -f "$WORK/access-audit-pod.json" -f "$WORK/verify-signed-pod.json" -f "$WORK/verify-unsigned-pod.json" \
  -f "$WORK/verify-moved-pod.json" -f "$WORK/notify-pod.json" >/dev/null

out() { pod_output irsteps "$@" 2>/dev/null || true; }
# finished NAME PHASE : the pod ended in PHASE, else its log.
finished() {
  local phase
  phase="$(wait_phase irsteps "$1")" || { echo "$phase"; return 1; }
  [[ "$phase" == "$2" ]] && return 0
  echo "$1: $phase, expected $2 (exit $(pod_exit_code irsteps "$1")):"
  k -n irsteps logs "$1" | tail -n 30
  return 1
}

# no_secret_in POD SECRET... : no secret in the pod's log or its /tmp/outputs.
no_secret_in() {
  local pod="$1" logs uid secret
  shift
  logs="$(k -n irsteps logs "$pod")"
  uid="$(k -n irsteps get pod "$pod" -o jsonpath='{.metadata.uid}')"
  for secret in "$@"; do
    if grep -qF "$secret" <<<"$logs"; then echo "a secret is in $pod's log"; return 1; fi
    if grep -rqF "$secret" "$STATE_DIR/node/kubelet/root/pods/$uid/volumes/kubernetes.io~empty-dir/tmp/outputs"; then
      echo "a secret is in $pod's /tmp/outputs"; return 1
    fi
  done
}

# ---- access-audit ---------------------------------------------------------------
access_audit_ok() {
  finished access-audit-step Succeeded || return 1
  local subjects users
  subjects="$(out access-audit-step subjects)"
  # Who could: app, through the Role db-reader, with its pod; not other.
  jq -e --arg ns "$NS" 'any(.[]; .subject.kind == "ServiceAccount" and .subject.name == "app"
      and .subject.namespace == $ns and (.pods | tostring | test("app"))
      and any(.chain[]; .role.name == "db-reader"))' <<<"$subjects" >/dev/null \
    || { echo "app is not among the subjects: $subjects"; return 1; }
  ! jq -e 'any(.[]; .subject.name == "other")' <<<"$subjects" >/dev/null || { echo "other could, it says: $subjects"; return 1; }
  # The API server was asked and agreed with every answer.
  [[ "$(out access-audit-step access-reviews)" -ge 2 ]] || { echo "access-reviews: $(out access-audit-step access-reviews)"; return 1; }
  [[ "$(out access-audit-step disagreement-count)" == 0 ]] || { echo "disagreements: $(out access-audit-step disagreements)"; return 1; }
  # Who did: app's read, from the audit log at the artifact's path.
  users="$(out access-audit-step users)"
  jq -e --arg u "system:serviceaccount:$NS:app" 'any(.[]; .user == $u and .accesses >= 1 and .verbs.get >= 1)' <<<"$users" >/dev/null \
    || { echo "app's read is not in users: $users"; k -n irsteps logs access-audit-step | tail -n 5; return 1; }
  [[ "$(out access-audit-step access-count)" -ge 1 ]] || { echo "access-count: $(out access-audit-step access-count)"; return 1; }
  [[ -n "$(out access-audit-step exposed-since)" ]] || { echo "no exposed-since"; return 1; }
}
check "access-audit as a pod: who could read the Secret (SubjectAccessReviews agree) and who did (the audit log)" access_audit_ok

# ---- verify-image ---------------------------------------------------------------
verify_signed_ok() {
  finished verify-signed Succeeded || return 1
  [[ "$(out verify-signed verdict)" == verified ]] || { echo "verdict: $(out verify-signed verdict)"; return 1; }
  [[ "$(out verify-signed digest)" == "$SIGNED" ]] || { echo "digest: $(out verify-signed digest), pushed $SIGNED"; return 1; }
  [[ "$(out verify-signed signers)" == "$IDENTITY" ]] || { echo "signers: $(out verify-signed signers)"; return 1; }
  no_secret_in verify-signed "$REGISTRY_PASSWORD"
}
check "verify-image as a pod verifies a signed image in a registry with a login (irsteps-registry, irsteps-trust)" verify_signed_ok
verify_unsigned_ok() {
  finished verify-unsigned Failed || return 1
  [[ "$(pod_exit_code irsteps verify-unsigned)" == 3 ]] || { echo "exit $(pod_exit_code irsteps verify-unsigned), expected 3"; return 1; }
  [[ "$(out verify-unsigned verdict)" == rejected ]] || { echo "verdict: $(out verify-unsigned verdict)"; return 1; }
  [[ "$(out verify-unsigned digest)" == "$UNSIGNED" ]] || { echo "digest: $(out verify-unsigned digest), pushed $UNSIGNED"; return 1; }
  [[ "$(out verify-unsigned signatures-found)" == 0 ]] || { echo "signatures-found: $(out verify-unsigned signatures-found)"; return 1; }
}
check "verify-image as a pod rejects an unsigned image (exit 3, the pod fails)" verify_unsigned_ok
verify_moved_ok() {
  finished verify-moved Succeeded || return 1
  [[ "$(out verify-moved verdict)" == rejected ]] || { echo "verdict: $(out verify-moved verdict)"; return 1; }
  [[ "$(out verify-moved digest)" == "$MOVED" ]] || { echo "digest: $(out verify-moved digest)"; return 1; }
  [[ "$(out verify-moved signatures-found)" == 1 && "$(out verify-moved signatures-verified)" == 0 ]] || {
    echo "signatures found $(out verify-moved signatures-found), verified $(out verify-moved signatures-verified)"; return 1; }
}
check "verify-image rejects another image's signature; fail-on-reject=false makes the verdict an output" verify_moved_ok

# ---- notify ---------------------------------------------------------------------
notify_ok() {
  finished notify-step Succeeded || return 1
  [[ "$(out notify-step channels-sent)" == siem ]] || { echo "channels-sent: $(out notify-step channels-sent)"; return 1; }
  local received body headers
  received="$(ls "$WORK/received")"
  [[ "$(grep -c '\.json$' <<<"$received")" == 1 ]] || { echo "received: $received"; return 1; }
  body="$WORK/received/$(grep '\.json$' <<<"$received")"
  headers="${body%.json}.headers"
  # At the secret URL, about this incident, signed with the secret.
  [[ "$body" == *"-hooks-$HOOK_TOKEN.json" ]] || { echo "posted to $(basename "$body")"; return 1; }
  grep -q "$NOTIFY_INCIDENT" "$body" || { echo "the incident is not in the message: $(head -c 300 "$body")"; return 1; }
  python3 - "$body" "$headers" "$HMAC_SECRET" <<'EOF' || return 1
import hashlib, hmac, json, sys
body = open(sys.argv[1], "rb").read()
headers = {k.lower(): v for k, v in json.load(open(sys.argv[2])).items()}
expected = "v1=" + hmac.new(sys.argv[3].encode(), headers["x-irsteps-timestamp"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
if not hmac.compare_digest(headers.get("x-irsteps-signature", ""), expected):
    sys.exit(f"signature {headers.get('x-irsteps-signature')!r}, expected {expected!r}")
EOF
  no_secret_in notify-step "$HOOK_TOKEN" "$HMAC_SECRET"
}
check "notify as a pod posts a signed webhook from the mounted routing and Secret, no secret in its log or outputs" notify_ok

# ---- cordon ---------------------------------------------------------------------
# The node's state that cordon may change: taints, unschedulable, and the
# irsteps annotations.
node_state() {
  k get node "$NODE" -o json | jq -S -c '{taints: (.spec.taints // []), unschedulable: (.spec.unschedulable // false),
    annotations: (.metadata.annotations // {} | with_entries(select(.key | test("irsteps"))))}'
}
BEFORE="$(node_state)"
step_pod cordon "$CORDON_IMAGE" irsteps irsteps-cordon "incident-id=$CORDON_INCIDENT" "namespace=$NS" pod=app \
  >"$WORK/cordon-pod.json"
# The release runs where the cordon allows: tolerating the node's taints (in
# a real cluster Argo would place it on another node).
step_pod cordon "$CORDON_IMAGE" irsteps irsteps-cordon "incident-id=$CORDON_INCIDENT" release=true |
  pod_renamed cordon-release |
  jq -c '.spec.tolerations = [{key: "irsteps.io/quarantine", operator: "Exists", effect: "NoSchedule"},
                              {key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule"}]' \
    >"$WORK/cordon-release-pod.json"
account_ready irsteps irsteps-cordon
k apply -f "$WORK/cordon-pod.json" >/dev/null

cordon_ok() {
  finished cordon-step Succeeded || return 1
  [[ "$(out cordon-step nodes)" == "$NODE" && "$(out cordon-step changed-nodes)" == "$NODE" ]] || {
    echo "nodes '$(out cordon-step nodes)', changed '$(out cordon-step changed-nodes)'"; return 1; }
  [[ "$(out cordon-step taint)" == "irsteps.io/quarantine=$CORDON_INCIDENT:NoSchedule" ]] || { echo "taint: $(out cordon-step taint)"; return 1; }
  local node
  node="$(k get node "$NODE" -o json)"
  jq -e '.spec.unschedulable == true' <<<"$node" >/dev/null || { echo "not unschedulable: $(jq -c .spec <<<"$node")"; return 1; }
  jq -e --arg v "$CORDON_INCIDENT" 'any(.spec.taints[]?; .key == "irsteps.io/quarantine" and .value == $v and .effect == "NoSchedule")' \
    <<<"$node" >/dev/null || { echo "no taint: $(jq -c .spec <<<"$node")"; return 1; }
  jq -e --arg k "cordon.irsteps.io/$CORDON_INCIDENT" '.metadata.annotations[$k] != null
      and .metadata.annotations["irsteps.io/cordoned"] == "true"' <<<"$node" >/dev/null \
    || { echo "annotations: $(jq -c .metadata.annotations <<<"$node")"; return 1; }
  local events
  events="$(k -n default get events --field-selector "involvedObject.name=$NODE,reason=Cordoned" \
    -o jsonpath='{range .items[*]}{.message}{"\n"}{end}')"
  grep -q "incident $CORDON_INCIDENT:" <<<"$events" || { echo "no Cordoned event on the node: $events"; return 1; }
  # And the scheduler obeys: a new pod finds no node.
  k -n "$NS" run latecomer --image="$IRSTEPS_BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never \
    --overrides='{"spec":{"terminationGracePeriodSeconds":1}}' --command -- sleep 3600 >/dev/null
  local reason
  for _ in $(seq 1 40); do
    reason="$(k -n "$NS" get pod latecomer -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].reason}')"
    [[ -n "$reason" ]] && break
    sleep 0.25
  done
  [[ "$reason" == Unschedulable && -z "$(k -n "$NS" get pod latecomer -o jsonpath='{.spec.nodeName}')" ]] \
    || { echo "the new pod: PodScheduled '$reason', node '$(k -n "$NS" get pod latecomer -o jsonpath='{.spec.nodeName}')'"; return 1; }
}
check "cordon as a pod cordons and taints the real node of its target; new pods stay unscheduled" cordon_ok

k apply -f "$WORK/cordon-release-pod.json" >/dev/null
release_ok() {
  finished cordon-release Succeeded || return 1
  [[ "$(out cordon-release changed-nodes)" == "$NODE" ]] || { echo "changed-nodes: $(out cordon-release changed-nodes)"; return 1; }
  # (The node lifecycle controller takes away its own taint
  # node.kubernetes.io/unschedulable a moment after the uncordon.)
  local after
  for _ in $(seq 1 40); do
    after="$(node_state)"
    [[ "$after" == "$BEFORE" ]] && break
    sleep 0.25
  done
  [[ "$after" == "$BEFORE" ]] || { echo "before: $BEFORE"; echo "after:  $after"; return 1; }
  # The pod that waited is scheduled now.
  for _ in $(seq 1 80); do
    [[ -n "$(k -n "$NS" get pod latecomer -o jsonpath='{.spec.nodeName}' 2>/dev/null)" ]] && return 0
    sleep 0.25
  done
  echo "the waiting pod was not scheduled after the release"; return 1
}
check "cordon --release as a pod restores the node exactly (taints, schedulable, annotations)" release_ok

# ---- block-image -----------------------------------------------------------------
BLOCK_IMAGE="$(cat "$WORK/block-image.image")"
BAD_DIGEST="sha256:$(printf 'the compromised image' | sha256sum | cut -d' ' -f1)"
for _ in $(seq 1 120); do
  [[ "$(k get crd clusterpolicies.kyverno.io -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' \
    2>/dev/null)" == True ]] && break
  sleep 0.25
done
account_ready irsteps irsteps-block-image
step_pod block-image "$BLOCK_IMAGE" irsteps irsteps-block-image "incident-id=$BLOCK_INCIDENT" \
  "image=registry.example/shop/api@$BAD_DIGEST" >"$WORK/block-pod.json"
step_pod block-image "$BLOCK_IMAGE" irsteps irsteps-block-image "incident-id=$BLOCK_INCIDENT" \
  "image=registry.example/shop/api@$BAD_DIGEST" release=true | pod_renamed block-release >"$WORK/block-release-pod.json"
k apply -f "$WORK/block-pod.json" >/dev/null
block_ok() {
  finished block-image-step Succeeded || return 1
  [[ "$(out block-image-step engine)" == kyverno ]] || { echo "engine: $(out block-image-step engine)"; return 1; }
  local name policy
  name="$(out block-image-step policy-name)"
  policy="$(k get clusterpolicies.kyverno.io "$name" -o json)" || { echo "no ClusterPolicy '$name'"; return 1; }
  jq -e --arg incident "$BLOCK_INCIDENT" --arg digest "$BAD_DIGEST" '
      .metadata.labels["irsteps.io/incident"] == $incident
      and .spec.validationFailureAction == "Enforce"
      and (tostring | contains($digest))' <<<"$policy" >/dev/null || {
    echo "the policy written:"; jq -c .spec <<<"$policy"; return 1; }
}
check "block-image as a pod finds Kyverno through discovery and writes the ClusterPolicy refusing the digest" block_ok
k apply -f "$WORK/block-release-pod.json" >/dev/null
block_release_ok() {
  finished block-release Succeeded || return 1
  [[ -z "$(k get clusterpolicies.kyverno.io -l "irsteps.io/incident=$BLOCK_INCIDENT" -o name)" ]] || {
    echo "left after --release:"; k get clusterpolicies.kyverno.io; return 1; }
}
check "block-image --release as a pod deletes exactly its ClusterPolicy" block_release_ok

echo "real-node-more-steps: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
