#!/usr/bin/env bash
# Runs step images as pods on a real node (start.sh --node real), with the
# pod spec the WorkflowTemplate gives them (workflows/argo/steps.yaml:
# command, args, env, securityContext, resources, volumes) and the shipped
# ServiceAccount and RBAC (workflows/argo/rbac/), reading the API server's
# address from KUBERNETES_SERVICE_HOST/PORT and its credentials from the
# mounted service-account token (in-cluster configuration), as in a real
# cluster. hostNetwork: the API server listens on 127.0.0.1 only and there is
# no kube-proxy (tests/cluster/README.md).
#
# Checked: `isolate` quarantines its target pod (label and NetworkPolicy, read
# back through the API), exits 0 and leaves its outputs in /tmp/outputs as
# Argo reads them. `drift` clones its expected state from git (a file://
# repository on a hostPath volume) and finds the drift of a live Deployment:
# with the template's spec, and without its cache volume and HOME, where the
# default cache folder is on the read-only root and the step works in a
# private folder under /tmp instead (warning cache.fallback; issue 17's
# first finding). `snapshot` collects a busybox container's log and triage
# (processes, the listening port) with every item complete.
#
# Usage: real-node-steps-test.sh STATE_DIR BIN_DIR
#   BIN_DIR: the build's bin folder (the step binaries the images are made of)
# Last line: "real-node-steps: N passed, N failed"; exit status 1 if anything
# failed or a tool is missing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE_DIR="$(cd "$HERE/../.." && pwd)"
_log_prefix=real-node-steps
# shellcheck source=lib.sh
source "$HERE/lib.sh"
real_node_test_args "$@"
WORK="$(mktemp -d /tmp/real-node-steps.XXXXXX)"
# shellcheck source=step-pods.sh
source "$HERE/step-pods.sh"


NS="victim-$RANDOM"
cleanup() {
  k delete namespace "$NS" irsteps --wait=false >/dev/null 2>&1 || true
  local f
  for f in isolate drift snapshot; do
    k delete -f "$SOURCE_DIR/workflows/argo/rbac/$f.yaml" --wait=false >/dev/null 2>&1 || true
  done
  k delete persistentvolume "irsteps-evidence-$NS" --wait=false >/dev/null 2>&1 || true
  step_images_clean
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- isolate ----------------------------------------------------------------
ISOLATE_IMAGE="$(step_image isolate)"
k create namespace "$NS" >/dev/null
k get namespace irsteps >/dev/null 2>&1 || k create namespace irsteps >/dev/null
k apply -f "$SOURCE_DIR/workflows/argo/rbac/isolate.yaml" >/dev/null
for _ in $(seq 1 80); do
  k -n irsteps get serviceaccount irsteps-isolate -o jsonpath='{.secrets[0].name}' 2>/dev/null | grep -q . && break
  sleep 0.25
done
for _ in $(seq 1 80); do k -n "$NS" get serviceaccount default >/dev/null 2>&1 && break; sleep 0.25; done
k -n "$NS" run target --image="$IRSTEPS_BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never \
  --labels=app=target --overrides='{"spec":{"terminationGracePeriodSeconds":1}}' --command -- sleep 3600 >/dev/null
k -n "$NS" run bystander --image="$IRSTEPS_BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never \
  --labels=app=target --overrides='{"spec":{"terminationGracePeriodSeconds":1}}' --command -- sleep 3600 >/dev/null
k -n "$NS" wait --for=condition=Ready pod/target pod/bystander --timeout=90s >/dev/null

INCIDENT="INC-$(date -u +%Y-%m-%d)-$(printf %03d $((RANDOM % 1000)))"
step_pod isolate "$ISOLATE_IMAGE" irsteps irsteps-isolate \
  "incident-id=$INCIDENT" "namespace=$NS" pod=target >"$WORK/isolate-pod.json"
k apply -f "$WORK/isolate-pod.json" >/dev/null

isolate_ok() {
  local phase
  phase="$(wait_phase irsteps isolate-step)" || { echo "$phase"; return 1; }
  if [[ "$phase" != Succeeded ]]; then
    echo "isolate pod $phase:"; k -n irsteps logs isolate-step; return 1
  fi
  # The step ran in the container as the template says: uid 65532.
  [[ "$(k -n irsteps get pod isolate-step -o jsonpath='{.spec.containers[0].securityContext.runAsUser}')" == 65532 ]] || return 1
  local label other policy selector
  label="$(k -n "$NS" get pod target -o jsonpath='{.metadata.labels.irsteps\.io/quarantine}')"
  [[ "$label" == "$INCIDENT" ]] || { echo "target's quarantine label: '$label'"; return 1; }
  other="$(k -n "$NS" get pod bystander -o jsonpath='{.metadata.labels.irsteps\.io/quarantine}')"
  [[ -z "$other" ]] || { echo "the bystander was labelled too: '$other'"; return 1; }
  policy="$(pod_output irsteps isolate-step policy)" || { echo "no /tmp/outputs/policy"; return 1; }
  selector="$(k -n "$NS" get networkpolicy "$policy" -o jsonpath='{.spec.podSelector.matchLabels.irsteps\.io/quarantine}')"
  [[ "$selector" == "$INCIDENT" ]] || { echo "policy $policy selects '$selector'"; return 1; }
  [[ "$(pod_output irsteps isolate-step pods)" == *target* ]] || { echo "outputs/pods: $(pod_output irsteps isolate-step pods)"; return 1; }
  [[ "$(pod_output irsteps isolate-step outcome)" == isolated ]] || { echo "outputs/outcome: $(pod_output irsteps isolate-step outcome)"; return 1; }
}
check "isolate as a pod (template spec, shipped RBAC, in-cluster token) quarantines its target" isolate_ok

# ---- drift ------------------------------------------------------------------
DRIFT_IMAGE="$(step_image drift)"
k apply -f "$SOURCE_DIR/workflows/argo/rbac/drift.yaml" >/dev/null
deployment() {  # NAME GREETING
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  namespace: $NS
spec:
  replicas: 1
  selector:
    matchLabels: {app: $1}
  template:
    metadata:
      labels: {app: $1}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: $IRSTEPS_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [sleep, "3600"]
        env:
        - {name: GREETING, value: "$2"}
EOF
}
# The expected state in git: GREETING=expected; the live one says live.
REPO="$WORK/git/expected.git"
mkdir -p "$WORK/git/clone"
deployment web expected >"$WORK/git/clone/web.yaml"
git -C "$WORK/git/clone" init -q -b main
git -C "$WORK/git/clone" add web.yaml
git -C "$WORK/git/clone" -c user.name=test -c user.email=test@example.invalid commit -qm expected
git clone -q --bare "$WORK/git/clone" "$REPO"
# The step runs as 65532: its repository (libgit2 checks the owner), and a
# way through the test's private folder to it.
chown -R 65532:65532 "$REPO"
chmod 755 "$WORK" "$WORK/git"
deployment web live | k apply -f - >/dev/null
for _ in $(seq 1 80); do
  k -n irsteps get serviceaccount irsteps-drift -o jsonpath='{.secrets[0].name}' 2>/dev/null | grep -q . && break
  sleep 0.25
done

drift_ok() {  # POD_NAME
  local phase logs
  phase="$(wait_phase irsteps "$1")" || { echo "$phase"; return 1; }
  logs="$(k -n irsteps logs "$1")"
  [[ "$phase" == Succeeded ]] || { echo "drift pod $phase:"; echo "$logs"; return 1; }
  [[ "$(pod_output irsteps "$1" drift)" == true ]] || { echo "outputs/drift: $(pod_output irsteps "$1" drift)"; echo "$logs"; return 1; }
  [[ "$(pod_output irsteps "$1" finding-count)" -ge 1 ]] || { echo "outputs/finding-count: $(pod_output irsteps "$1" finding-count)"; return 1; }
  printf '%s\n' "$logs" >"$WORK/$1.log"
}
DRIFT_INCIDENT="INC-$(date -u +%Y-%m-%d)-$(printf %03d $((RANDOM % 1000)))"
STEP_POD_HOSTPATH="$WORK/git:/expected" step_pod drift "$DRIFT_IMAGE" irsteps irsteps-drift \
  "incident-id=$DRIFT_INCIDENT" "expected=file:///expected/expected.git" path=web.yaml "namespace=$NS" \
  >"$WORK/drift-pod.json"
STEP_POD_NO_CACHE=1 STEP_POD_HOSTPATH="$WORK/git:/expected" step_pod drift "$DRIFT_IMAGE" irsteps irsteps-drift \
  "incident-id=$DRIFT_INCIDENT" "expected=file:///expected/expected.git" path=web.yaml "namespace=$NS" \
  >"$WORK/drift-pod-no-cache.json"
k apply -f "$WORK/drift-pod.json" -f "$WORK/drift-pod-no-cache.json" >/dev/null

drift_template_ok() {
  drift_ok drift-step || return 1
  if grep -q cache.fallback "$WORK/drift-step.log"; then
    echo "the template's cache volume was not used:"; cat "$WORK/drift-step.log"; return 1
  fi
}
check "drift as a pod (template spec) clones its expected state from git and finds the drift" drift_template_ok
drift_fallback_ok() {
  drift_ok drift-step-no-cache || return 1
  grep -q '"event":"cache.fallback".*/home/nonroot/.cache/irsteps.*Read-only file system' "$WORK/drift-step-no-cache.log" || {
    echo "no cache.fallback warning for the read-only root:"; cat "$WORK/drift-step-no-cache.log"; return 1; }
}
check "drift on a read-only root without a cache volume works in a private folder (cache.fallback)" drift_fallback_ok

# ---- snapshot ---------------------------------------------------------------
# The template's evidence volume is the PersistentVolumeClaim
# irsteps-evidence: here bound to a hostPath PersistentVolume in the test's
# folder, so the test reads what the step wrote.
SNAPSHOT_IMAGE="$(step_image snapshot)"
k apply -f "$SOURCE_DIR/workflows/argo/rbac/snapshot.yaml" >/dev/null
EVIDENCE="$WORK/evidence"
mkdir -p "$EVIDENCE"
chmod 777 "$EVIDENCE"
PV="irsteps-evidence-$NS"
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: $PV}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: irsteps, name: irsteps-evidence}
  hostPath: {path: $EVIDENCE, type: Directory}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: irsteps-evidence, namespace: irsteps}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: $PV
  resources: {requests: {storage: 1Gi}}
EOF
for _ in $(seq 1 80); do
  [[ "$(k -n irsteps get pvc irsteps-evidence -o jsonpath='{.status.phase}')" == Bound ]] && break
  sleep 0.25
done
for _ in $(seq 1 80); do
  k -n irsteps get serviceaccount irsteps-snapshot -o jsonpath='{.secrets[0].name}' 2>/dev/null | grep -q . && break
  sleep 0.25
done
k -n "$NS" run talker --image="$IRSTEPS_BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never \
  --overrides='{"spec":{"terminationGracePeriodSeconds":1}}' --command -- \
  sh -c 'echo talker-started; echo planted >/tmp/implant.sh; exec httpd -f -p 8080 -h /tmp' >/dev/null
k -n "$NS" wait --for=condition=Ready pod/talker --timeout=90s >/dev/null
SNAP_INCIDENT="INC-$(date -u +%Y-%m-%d)-$(printf %03d $((RANDOM % 1000)))"
step_pod snapshot "$SNAPSHOT_IMAGE" irsteps irsteps-snapshot \
  "incident-id=$SNAP_INCIDENT" "namespace=$NS" pod=talker filesystem=true >"$WORK/snapshot-pod.json"
k apply -f "$WORK/snapshot-pod.json" >/dev/null

snapshot_ok() {
  local phase logs dir
  phase="$(wait_phase irsteps snapshot-step)" || { echo "$phase"; return 1; }
  logs="$(k -n irsteps logs snapshot-step)"
  [[ "$phase" == Succeeded ]] || { echo "snapshot pod $phase:"; echo "$logs"; return 1; }
  # Counts of evidence items: every one complete.
  local complete partial failed
  complete="$(pod_output irsteps snapshot-step complete)"
  partial="$(pod_output irsteps snapshot-step partial)"
  failed="$(pod_output irsteps snapshot-step failed)"
  [[ "$complete" -ge 5 && "$partial" == 0 && "$failed" == 0 ]] || {
    echo "outputs: complete '$complete', partial '$partial', failed '$failed'"; echo "$logs"; return 1; }
  dir="$EVIDENCE/$SNAP_INCIDENT"
  [[ -f "$dir/manifest.json" ]] || { echo "no manifest.json in $dir:"; find "$dir" | head -n 30; return 1; }
  # The container's log, through the API server and the kubelet.
  grep -rqs talker-started "$dir" || { echo "the container's log is not in the evidence:"; find "$dir"; return 1; }
  # The container's files: busybox's tar has no --exclude, so the step names
  # the root's entries but /proc, /sys and /dev instead; the file the
  # container planted is in the tar.
  local tarball
  tarball="$(ls "$dir"/*/talker/filesystem/talker.tar 2>/dev/null | head -n 1)"
  [[ -n "$tarball" ]] || { echo "no filesystem tar:"; find "$dir"; return 1; }
  tar tf "$tarball" | grep -Eqx '(\./)?tmp/implant\.sh' || {
    echo "tmp/implant.sh not in the filesystem tar:"; tar tf "$tarball" | head -n 20; return 1; }
  ! tar tf "$tarball" | grep -Eq '^(\./)?proc/' || { echo "/proc is in the filesystem tar"; return 1; }
  # Triage through busybox's tools: the processes, and the listening port
  # 8080 (hex 1F90 in /proc/net/tcp when netstat gives way to /proc).
  grep -qs httpd "$dir"/*/talker/triage/talker/processes.txt || {
    echo "httpd not in processes.txt:"; cat "$dir"/*/talker/triage/talker/processes.txt; return 1; }
  grep -Eqs ':8080 |:1F90 ' "$dir"/*/talker/triage/talker/network.txt || {
    echo "port 8080 not in network.txt:"; cat "$dir"/*/talker/triage/talker/network.txt; return 1; }
}
check "snapshot as a pod captures the logs, triage and files of a real busybox container" snapshot_ok

echo "real-node-steps: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
