#!/usr/bin/env bash
# The workload steps' images as pods on a real node (start.sh --node real),
# with the WorkflowTemplate's pod spec (workflows/argo/steps.yaml) and the
# shipped RBAC (workflows/argo/rbac/), against real Deployments whose pods
# become Ready through real readiness probes (busybox, periodSeconds 1).
#
# Checked:
# - rotate-secret rotates a Secret a Deployment reads, restarts the
#   Deployment and awaits its real rollout: the new pod is Ready and holds
#   the new value. Against a Deployment whose new pods fail their readiness
#   probe (the backend still expects the old credential) it exits 1 once its
#   --timeout has passed, naming the workload and its new pod, running but
#   not ready (its readiness probe has not passed), and the old pod keeps
#   serving.
# - rollout restart (readiness passing) and status are awaited and succeed;
#   status of a bad revision (readiness failing) exits 1 in bounded time with
#   the reason; undo brings the good revision back and awaits it.
# - rollout delete-pod --grace-period: the victim, a shell that traps
#   SIGTERM, records on a hostPath when it got SIGTERM and keeps writing
#   until the kubelet kills it: the time between is the grace period the
#   step asked for (5 s), not the kubelet's minimum (forced: 2 s) nor the
#   pod's own terminationGracePeriodSeconds (30 s).
# - rollout check-persistence against real controllers: a ReplicaSet's
#   replacement pod and the Job (and its pod) a CronJob's template made are
#   not flagged; a new CronJob, a bare pod and a Deployment whose template
#   changed in the window are.
# - No value of a rotated Secret, old or new, is in any step pod's log or
#   outputs.
#
# Usage: real-node-workloads-test.sh STATE_DIR BIN_DIR
#   BIN_DIR: the build's bin folder (the step binaries the images are made of)
# Last line: "real-node-workloads: N passed, N failed"; exit status 1 if
# anything failed or a tool is missing.
# shellcheck disable=SC2016  # the '$VARIABLES' are for the pods' shells
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE_DIR="$(cd "$HERE/../.." && pwd)"
_log_prefix=real-node-workloads
# shellcheck source=lib.sh
source "$HERE/lib.sh"
real_node_test_args "$@"
WORK="$(mktemp -d /tmp/real-node-workloads.XXXXXX)"
# shellcheck source=step-pods.sh
source "$HERE/step-pods.sh"

NS="workloads-$RANDOM"
PNS="persist-$RANDOM"
STEP_PODS=()
cleanup() {
  k delete namespace "$NS" "$PNS" --wait=false >/dev/null 2>&1 || true
  local pod
  for pod in "${STEP_PODS[@]}"; do k -n irsteps delete pod "$pod" --wait=false >/dev/null 2>&1 || true; done
  step_images_clean
  rm -rf "$WORK"
}
trap cleanup EXIT

# The images, built while the workloads start.
step_image rotate-secret >"$WORK/rotate-secret.image" 2>"$WORK/rotate-secret.build.log" &
ROTATE_BUILD=$!
step_image rollout >"$WORK/rollout.image" 2>"$WORK/rollout.build.log" &
ROLLOUT_BUILD=$!

k get namespace irsteps >/dev/null 2>&1 || k create namespace irsteps >/dev/null
k create namespace "$NS" >/dev/null
k create namespace "$PNS" >/dev/null
k apply -f "$SOURCE_DIR/workflows/argo/rbac/rotate-secret.yaml" -f "$SOURCE_DIR/workflows/argo/rbac/rollout.yaml" >/dev/null
for ns in "$NS" "$PNS"; do
  for _ in $(seq 1 80); do k -n "$ns" get serviceaccount default >/dev/null 2>&1 && break; sleep 0.25; done
done

# deployment NAMESPACE NAME READINESS [ENV_YAML] : one busybox replica that
# sleeps, Ready when READINESS (a shell test; empty: no probe) passes, checked
# every second;
# a new pod must be Ready before the old one goes (maxUnavailable 0).
deployment() {
  cat <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $2, namespace: $1}
spec:
  replicas: 1
  selector: {matchLabels: {app: $2}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: $2}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: $IRSTEPS_BUSYBOX_IMAGE
        imagePullPolicy: Never
        command: [sleep, "3600"]
        env: ${4:-[]}
EOF
  # Exec probes (the kubelet cannot reach the pod network: tests/cluster/README.md)
  # cost a runc exec each: only where the test needs one.
  [[ -z "$3" ]] || cat <<EOF
        readinessProbe:
          exec: {command: [sh, -c, '$3']}
          periodSeconds: 1
          failureThreshold: 1
EOF
}
secret_value() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
OLD_DB="$(secret_value)"
OLD_API="$(secret_value)"
k -n "$NS" create secret generic db-creds --from-literal=password="$OLD_DB" >/dev/null
k -n "$NS" create secret generic api-key --from-literal=token="$OLD_API" >/dev/null
k -n "$NS" create secret generic api-key-expected --from-literal=token="$OLD_API" >/dev/null
{
  # app reads db-creds and is Ready with any password.
  deployment "$NS" app 'test -n "$PASSWORD"' \
    '[{name: PASSWORD, valueFrom: {secretKeyRef: {name: db-creds, key: password}}}]'
  echo ---
  # stuck's backend expects the token from before the rotation: its new
  # pods never become Ready.
  deployment "$NS" stuck 'test "$TOKEN" = "$EXPECTED"' \
    '[{name: TOKEN, valueFrom: {secretKeyRef: {name: api-key, key: token}}}, {name: EXPECTED, valueFrom: {secretKeyRef: {name: api-key-expected, key: token}}}]'
  echo ---
  deployment "$NS" web 'test -n "$HOSTNAME"'
  echo ---
  deployment "$NS" flaky 'test "$MODE" = good' '[{name: MODE, value: good}]'
  echo ---
  deployment "$PNS" keeper ''
  echo ---
  deployment "$PNS" tampered ''
  echo ---
  cat <<EOF
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: nightly, namespace: $PNS}
spec:
  schedule: "0 0 1 1 *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - {name: main, image: $IRSTEPS_BUSYBOX_IMAGE, imagePullPolicy: Never, command: ["true"]}
EOF
  echo ---
  # The delete-pod victim: records SIGTERM's arrival on a hostPath, then
  # keeps writing until it is killed. Its own grace period is 30 s.
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: victim, namespace: $NS}
spec:
  terminationGracePeriodSeconds: 30
  volumes: [{name: record, hostPath: {path: $WORK/victim, type: Directory}}]
  containers:
  - name: main
    image: $IRSTEPS_BUSYBOX_IMAGE
    imagePullPolicy: Never
    volumeMounts: [{name: record, mountPath: /record}]
    command:
    - sh
    - -c
    - |
      trap 'cat /proc/uptime >/record/term; while :; do cat /proc/uptime >>/record/alive; usleep 100000; done' TERM
      echo started >/record/started
      while :; do usleep 100000; done
EOF
} >"$WORK/workloads.yaml"
mkdir -p "$WORK/victim"
k apply -f "$WORK/workloads.yaml" >/dev/null

# named_step_pod POD STEP IMAGE NAMESPACE SERVICE_ACCOUNT NAME=VALUE... :
# step_pod under another name (made in the background), applied by the next
# apply_step_pods (one kubectl for several: each costs a second or more on a
# busy machine).
PENDING=()
MAKING=()
named_step_pod() {
  local pod="$1" step="$2"
  shift 2
  STEP_PODS+=("$pod")
  PENDING+=(-f "$WORK/$pod.json")
  step_pod "$step" "$@" | python3 -c '
import json, sys
pod = json.load(sys.stdin)
pod["metadata"]["name"] = sys.argv[1]
print(json.dumps(pod))' "$pod" >"$WORK/$pod.json" &
  MAKING+=($!)
}
apply_step_pods() {
  local pid
  for pid in "${MAKING[@]}"; do wait "$pid" || die "a step pod's spec was not made"; done
  k apply "${PENDING[@]}" >/dev/null
  PENDING=()
  MAKING=()
}
incident() { echo "INC-$(date -u +%Y-%m-%d)-$(printf %03d $((RANDOM % 1000)))"; }
# finished POD : waits for the step pod's end; prints "PHASE EXIT_CODE SECONDS"
# (the container's run time) and keeps its log in $WORK/POD.log.
finished() {
  local phase
  phase="$(wait_phase irsteps "$1")" || { echo "$phase"; return 1; }
  k -n irsteps logs "$1" >"$WORK/$1.log" 2>&1 || true
  k -n irsteps get pod "$1" -o json | python3 -c '
import json, sys, datetime
pod = json.load(sys.stdin)
t = pod["status"]["containerStatuses"][0]["state"]["terminated"]
at = lambda s: datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
seconds = lambda a, b: int((at(b) - at(a)).total_seconds())
print(pod["status"]["phase"], t["exitCode"], seconds(t["startedAt"], t["finishedAt"]))
print(pod["metadata"]["name"], "started", seconds(pod["metadata"]["creationTimestamp"], t["startedAt"]),
      "s after its creation, ran", seconds(t["startedAt"], t["finishedAt"]), "s",
      file=open(sys.argv[1], "a"))' "$WORK/timings"
}
ready_pods() {  # NAMESPACE APP : the names of the app's pods that are Ready and not terminating
  k -n "$1" get pods -l "app=$2" -o json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
    if ready and not p["metadata"].get("deletionTimestamp"):
        print(p["metadata"]["name"])'
}

live_pods() {  # NAMESPACE APP : the names of the app's pods not being deleted
  k -n "$1" get pods -l "app=$2" -o json | python3 -c '
import json, sys
for p in json.load(sys.stdin)["items"]:
    if not p["metadata"].get("deletionTimestamp"):
        print(p["metadata"]["name"])'
}

log "workloads applied ($SECONDS s)"
k -n "$NS" wait --for=condition=Available deployment/app deployment/stuck deployment/web deployment/flaky \
  --timeout=90s >/dev/null
k -n "$PNS" wait --for=condition=Available deployment/keeper deployment/tampered --timeout=90s >/dev/null
k -n "$NS" wait --for=condition=Ready pod/victim --timeout=60s >/dev/null
log "workloads ready ($SECONDS s)"
STUCK_POD="$(ready_pods "$NS" stuck)"
FLAKY_GOOD="$(ready_pods "$NS" flaky)"
# A bad revision of flaky: its new pod fails the readiness probe.
k -n "$NS" set env deployment/flaky MODE=bad >/dev/null

# The window of check-persistence opens after everything above was made
# (creation and managedFields times have whole seconds).
start_second=$(date +%s)
while [[ $(date +%s) == "$start_second" ]]; do sleep 0.1; done
SINCE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
# In the window: the ReplicaSet replaces a deleted pod, the CronJob's
# template makes a Job (as the CronJob controller does: owned by the
# CronJob, its jobTemplate), an attacker adds a CronJob and a bare pod and
# changes a Deployment's template.
KEEPER_OLD="$(ready_pods "$PNS" keeper)"
k -n "$PNS" delete pod "$KEEPER_OLD" --wait=false >/dev/null
k -n "$PNS" get cronjob nightly -o json | python3 -c '
import json, sys
cron = json.load(sys.stdin)
job = {"apiVersion": "batch/v1", "kind": "Job",
       "metadata": {"name": "nightly-manual", "namespace": cron["metadata"]["namespace"],
                    "ownerReferences": [{"apiVersion": "batch/v1beta1", "kind": "CronJob",
                                         "name": "nightly", "uid": cron["metadata"]["uid"],
                                         "controller": True, "blockOwnerDeletion": True}]},
       "spec": cron["spec"]["jobTemplate"]["spec"]}
print(json.dumps(job))' | k apply -f - >/dev/null
k -n "$PNS" apply -f - >/dev/null <<EOF
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: implant, namespace: $PNS}
spec:
  schedule: "0 0 1 1 *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: main, image: $IRSTEPS_BUSYBOX_IMAGE, imagePullPolicy: Never, command: ["true"]}
EOF
k -n "$PNS" run backdoor --image="$IRSTEPS_BUSYBOX_IMAGE" --image-pull-policy=Never --restart=Never \
  --overrides='{"spec":{"terminationGracePeriodSeconds":1}}' --command -- sleep 3600 >/dev/null
k -n "$PNS" set env deployment/tampered INJECTED=1 >/dev/null

wait "$ROTATE_BUILD" || { cat "$WORK/rotate-secret.build.log" >&2; die "rotate-secret image not built"; }
wait "$ROLLOUT_BUILD" || { cat "$WORK/rollout.build.log" >&2; die "rollout image not built"; }
log "images built ($SECONDS s)"
ROTATE_IMAGE="$(cat "$WORK/rotate-secret.image")"
ROLLOUT_IMAGE="$(cat "$WORK/rollout.image")"
for account in irsteps-rotate-secret irsteps-rollout; do
  for _ in $(seq 1 80); do
    k -n irsteps get serviceaccount "$account" -o jsonpath='{.secrets[0].name}' 2>/dev/null | grep -q . && break
    sleep 0.25
  done
done

# The step pods that can run at once.
ROTATE_TIMEOUT=12
STATUS_TIMEOUT=8
named_step_pod rotate-app rotate-secret "$ROTATE_IMAGE" irsteps irsteps-rotate-secret \
  "incident-id=$(incident)" "namespace=$NS" secret=db-creds key=password timeout=90s
named_step_pod rotate-stuck rotate-secret "$ROTATE_IMAGE" irsteps irsteps-rotate-secret \
  "incident-id=$(incident)" "namespace=$NS" secret=api-key key=token timeout=${ROTATE_TIMEOUT}s
named_step_pod restart-web rollout "$ROLLOUT_IMAGE" irsteps irsteps-rollout \
  "incident-id=$(incident)" verb=restart target=deployment/web "namespace=$NS" timeout=90s
named_step_pod status-bad rollout "$ROLLOUT_IMAGE" irsteps irsteps-rollout \
  "incident-id=$(incident)" verb=status target=deployment/flaky "namespace=$NS" timeout=${STATUS_TIMEOUT}s
named_step_pod delete-victim rollout "$ROLLOUT_IMAGE" irsteps irsteps-rollout \
  "incident-id=$(incident)" verb=delete-pod target=victim "namespace=$NS" grace-period=5
apply_step_pods

# ---- rollout status of a bad revision, then undo --------------------------------
# First, so that the undo (which waits out the bad pod's deletion) runs
# beside the checks below.
status_bad_ok() {
  local result phase code seconds
  result="$(finished status-bad)" || { echo "$result"; return 1; }
  read -r phase code seconds <<<"$result"
  [[ "$phase" == Failed && "$code" == 1 ]] || { echo "status-bad: $result"; cat "$WORK/status-bad.log"; return 1; }
  ((seconds >= STATUS_TIMEOUT && seconds <= STATUS_TIMEOUT + 15)) || {
    echo "status-bad ran $seconds s with --timeout=${STATUS_TIMEOUT}s"; return 1; }
  grep -q '"event":"step.failed".*deployment/flaky not healthy after [0-9]*s: .*pod flaky-[a-z0-9-]*: container main running but not ready (its readiness probe has not passed)' \
    "$WORK/status-bad.log" || { echo "no clear reason in the log:"; cat "$WORK/status-bad.log"; return 1; }
}
check "rollout status of a revision failing readiness exits 1 after its --timeout, with the reason" status_bad_ok

# Undo the bad revision; and status of web, whose restart may still be
# rolling out: status awaits it.
named_step_pod undo-flaky rollout "$ROLLOUT_IMAGE" irsteps irsteps-rollout \
  "incident-id=$(incident)" verb=undo target=deployment/flaky "namespace=$NS" timeout=90s
named_step_pod status-web rollout "$ROLLOUT_IMAGE" irsteps irsteps-rollout \
  "incident-id=$(incident)" verb=status target=deployment/web "namespace=$NS" timeout=90s
apply_step_pods
# check-persistence once the replacement pod and the Job's pod exist.
for _ in $(seq 1 120); do
  [[ "$(k -n "$PNS" get pods -l app=keeper -o name | wc -l)" -ge 1 &&
     "$(k -n "$PNS" get pods -l app=keeper -o name)" != "pod/$KEEPER_OLD" &&
     -n "$(k -n "$PNS" get pods -l job-name=nightly-manual -o name)" ]] && break
  sleep 0.25
done
named_step_pod persistence rollout "$ROLLOUT_IMAGE" irsteps irsteps-rollout \
  "incident-id=$(incident)" verb=check-persistence "namespace=$PNS" "since=$SINCE"
apply_step_pods

log "step pods applied ($SECONDS s)"
# ---- rotate-secret ----------------------------------------------------------
secret_data() { k -n "$NS" get secret "$1" -o jsonpath="{.data.$2}" | base64 -d; }
rotate_ok() {
  local result new
  result="$(finished rotate-app)" || { echo "$result"; return 1; }
  [[ "$result" == "Succeeded 0 "* ]] || { echo "rotate-app: $result"; cat "$WORK/rotate-app.log"; return 1; }
  [[ "$(pod_output irsteps rotate-app restarted)" == deployment/app ]] || {
    echo "outputs/restarted: $(pod_output irsteps rotate-app restarted)"; return 1; }
  [[ "$(pod_output irsteps rotate-app consumers)" == *deployment/app* ]] || {
    echo "outputs/consumers: $(pod_output irsteps rotate-app consumers)"; return 1; }
  new="$(secret_data db-creds password)"
  [[ -n "$new" && "$new" != "$OLD_DB" ]] || { echo "Secret db-creds was not given a new value"; return 1; }
  # The rollout was awaited: when the step ended, app's one pod was new,
  # Ready, and held the new value.
  local pods
  pods="$(ready_pods "$NS" app)"
  [[ "$(wc -w <<<"$pods")" == 1 ]] || { echo "app's ready pods: $pods"; return 1; }
  # An old pod may still be Terminating (its grace period): the rollout is
  # complete once every old pod is being deleted, as kubectl rollout status
  # has it; one that is not being deleted is a pod the step did not await.
  [[ "$(live_pods "$NS" app | wc -l)" == 1 ]] || {
    echo "old pods of app left that are not being deleted:"; k -n "$NS" get pods -l app=app; return 1; }
  [[ -n "$(k -n "$NS" get pod "$pods" -o jsonpath='{.metadata.annotations.irsteps\.io/restartedAt}')" ]] || {
    echo "pod $pods is not of the restarted template"; return 1; }
  # (busybox's image has no printenv; the value stays in this shell.)
  [[ "$(k -n "$NS" exec "$pods" -- sh -c 'echo "$PASSWORD"')" == "$new" ]] || {
    echo "pod $pods does not hold the new password"; return 1; }
}
check "rotate-secret rotates a Secret and awaits the real rollout of its consumer (new pod Ready)" rotate_ok

rotate_stuck_ok() {
  local result phase code seconds
  result="$(finished rotate-stuck)" || { echo "$result"; return 1; }
  read -r phase code seconds <<<"$result"
  [[ "$phase" == Failed && "$code" == 1 ]] || { echo "rotate-stuck: $result"; cat "$WORK/rotate-stuck.log"; return 1; }
  # Bounded: the rollout's --timeout and a little more for the requests.
  ((seconds >= ROTATE_TIMEOUT && seconds <= ROTATE_TIMEOUT + 15)) || {
    echo "rotate-stuck ran $seconds s with --timeout=${ROTATE_TIMEOUT}s"; return 1; }
  # The reason: the workload, what its status lacks, the pod not ready and
  # why (the pod's conditions alone say ContainersNotReady).
  grep -q '"event":"step.failed".*not every consumer became healthy: deployment/stuck not healthy after [0-9]*s: .*1 old replicas left.*pod stuck-[a-z0-9-]*: container main running but not ready (its readiness probe has not passed)' \
    "$WORK/rotate-stuck.log" || { echo "no clear reason in the log:"; cat "$WORK/rotate-stuck.log"; return 1; }
  grep -q '"healthy":false' <(pod_output irsteps rotate-stuck rollouts) || {
    echo "outputs/rollouts: $(pod_output irsteps rotate-stuck rollouts)"; return 1; }
  [[ "$(secret_data api-key token)" != "$OLD_API" ]] || { echo "Secret api-key was not rotated"; return 1; }
  # The old pod still serves: the Deployment did not lose its ready replica.
  [[ "$(ready_pods "$NS" stuck)" == "$STUCK_POD" ]] || {
    echo "stuck's ready pods: $(ready_pods "$NS" stuck) (before: $STUCK_POD)"; return 1; }
}
check "rotate-secret whose consumer's new pods fail readiness exits 1 after its --timeout, with the reason" \
  rotate_stuck_ok
# Its new pod would fail its probe every second until the end.
k -n "$NS" delete deployment stuck --wait=false >/dev/null

# ---- rollout restart / status / undo -----------------------------------------
restart_ok() {
  local result pods
  result="$(finished restart-web)" || { echo "$result"; return 1; }
  [[ "$result" == "Succeeded 0 "* ]] || { echo "restart-web: $result"; cat "$WORK/restart-web.log"; return 1; }
  grep -q '"healthy":true' <(pod_output irsteps restart-web rollouts) || {
    echo "outputs/rollouts: $(pod_output irsteps restart-web rollouts)"; return 1; }
  pods="$(ready_pods "$NS" web)"
  [[ "$(wc -w <<<"$pods")" == 1 && "$(k -n "$NS" get pods -l app=web -o name | wc -l)" == 1 ]] || {
    echo "web's pods:"; k -n "$NS" get pods -l app=web; return 1; }
  [[ -n "$(k -n "$NS" get pod "$pods" -o jsonpath='{.metadata.annotations.irsteps\.io/restartedAt}')" ]] || {
    echo "pod $pods is not of the restarted template"; return 1; }
}
check "rollout restart awaits the real rollout (readiness passing)" restart_ok


# ---- delete-pod with a grace period -------------------------------------------
delete_pod_ok() {
  local result term last
  result="$(finished delete-victim)" || { echo "$result"; return 1; }
  [[ "$result" == "Succeeded 0 "* ]] || { echo "delete-victim: $result"; cat "$WORK/delete-victim.log"; return 1; }
  [[ "$(pod_output irsteps delete-victim deleted-pods)" == victim ]] || {
    echo "outputs/deleted-pods: $(pod_output irsteps delete-victim deleted-pods)"; return 1; }
  # Until the node reports the container terminated (the pod's object stays
  # until the kubelet's next container GC, up to a minute later).
  local state=""
  for _ in $(seq 1 120); do
    # (Gone already: the error is the state.)
    if ! state="$(k -n "$NS" get pod victim -o jsonpath='{.status.containerStatuses[0].state.terminated.reason}' 2>&1)" ||
      [[ -n "$state" ]]; then
      break
    fi
    sleep 0.25
  done
  [[ -n "$state" ]] || { echo "the victim still runs 30 s after its deletion"; return 1; }
  [[ -s "$WORK/victim/term" ]] || { echo "the victim got no SIGTERM:"; ls -l "$WORK/victim"; return 1; }
  term="$(cut -d' ' -f1 "$WORK/victim/term")"
  last="$(grep -E '^[0-9.]+ ' "$WORK/victim/alive" | tail -n 1 | cut -d' ' -f1)"
  # SIGKILL came 5 s (the step's --grace-period) after SIGTERM, give or take
  # the kubelet's pace: not 2 s (the kubelet's floor, a forced delete) nor
  # 30 s (the pod's own).
  python3 -c 'import sys; g = float(sys.argv[2]) - float(sys.argv[1]); print(f"killed {g:.1f} s after SIGTERM"); sys.exit(0 if 4.0 <= g <= 9.0 else 1)' \
    "$term" "$last"
}
check "rollout delete-pod --grace-period=5: the victim gets SIGTERM and 5 s before it is killed" delete_pod_ok

# ---- check-persistence --------------------------------------------------------
persistence_ok() {
  local result flagged objects
  result="$(finished persistence)" || { echo "$result"; return 1; }
  [[ "$result" == "Succeeded 0 "* ]] || { echo "persistence: $result"; cat "$WORK/persistence.log"; return 1; }
  flagged=",$(pod_output irsteps persistence flagged),"
  objects="$(pod_output irsteps persistence objects)"
  local want
  for want in "$PNS/cronjob/implant" "$PNS/pod/backdoor" "$PNS/deployment/tampered"; do
    [[ "$flagged" == *",$want,"* ]] || { echo "$want not flagged: $flagged"; echo "$objects"; return 1; }
  done
  # tampered's new ReplicaSet, made from the changed template.
  [[ "$flagged" == *",$PNS/replicaset/tampered-"* ]] || { echo "tampered's new ReplicaSet not flagged: $flagged"; return 1; }
  # What the controllers made from templates of before the window.
  [[ "$flagged" != *keeper* && "$flagged" != *nightly* ]] || { echo "a controller's work flagged: $flagged"; echo "$objects"; return 1; }
  python3 - "$objects" "$PNS" <<'EOF' || return 1
import json, sys
objects, ns = json.loads(sys.argv[1]), sys.argv[2]
def verdicts(prefix):
    return [o for o in objects if o["object"].startswith(f"{ns}/{prefix}")]
checks = [("pod/keeper-", "replicaset/keeper-"), ("job/nightly-manual", "cronjob/nightly"),
          ("pod/nightly-manual-", "job/nightly-manual")]
bad = []
for prefix, owner in checks:
    found = verdicts(prefix)
    new = [o for o in found if "made by" in o["reason"]]
    if not new or any(o["flagged"] for o in found) or not all(f"{ns}/{owner}" in o["reason"] for o in new):
        bad.append((prefix, found))
if bad:
    print("not recognised as a controller's work:", json.dumps(bad, indent=1))
    sys.exit(1)
EOF
}
check "rollout check-persistence: real controllers' replacements pass, a new CronJob, bare pod and changed template are flagged" \
  persistence_ok

# ---- undo, status ---------------------------------------------------------------
undo_ok() {
  local result pods
  result="$(finished undo-flaky)" || { echo "$result"; return 1; }
  [[ "$result" == "Succeeded 0 "* ]] || { echo "undo-flaky: $result"; cat "$WORK/undo-flaky.log"; return 1; }
  [[ "$(k -n "$NS" get deployment flaky -o jsonpath='{.spec.template.spec.containers[0].env[0].value}')" == good ]] || {
    echo "flaky's template after undo:"; k -n "$NS" get deployment flaky -o jsonpath='{.spec.template.spec.containers[0].env}'; return 1; }
  pods="$(ready_pods "$NS" flaky)"
  [[ "$(wc -w <<<"$pods")" == 1 && "$(k -n "$NS" get pods -l app=flaky -o name | wc -l)" == 1 ]] || {
    echo "flaky's pods:"; k -n "$NS" get pods -l app=flaky; return 1; }
  # The good pod kept serving through the bad revision and the undo.
  [[ "$pods" == "$FLAKY_GOOD" ]] || { echo "flaky's ready pod: $pods (before: $FLAKY_GOOD)"; return 1; }
}
check "rollout undo of the bad revision brings the good one back, awaited" undo_ok
status_web_ok() {
  local result
  result="$(finished status-web)" || { echo "$result"; return 1; }
  [[ "$result" == "Succeeded 0 "* ]] || { echo "status-web: $result"; cat "$WORK/status-web.log"; return 1; }
  # It ended with the restart's pod Ready and alone.
  local pods
  pods="$(ready_pods "$NS" web)"
  [[ "$(wc -w <<<"$pods")" == 1 && "$(k -n "$NS" get pods -l app=web -o name | wc -l)" == 1 ]] || {
    echo "web's pods:"; k -n "$NS" get pods -l app=web; return 1; }
  [[ -n "$(k -n "$NS" get pod "$pods" -o jsonpath='{.metadata.annotations.irsteps\.io/restartedAt}')" ]] || {
    echo "pod $pods is not of the restarted template"; return 1; }
}
check "rollout status of a restarted Deployment succeeds once its rollout is complete" status_web_ok

# ---- no secret in any log or output ---------------------------------------------
no_secret_ok() {
  local values=("$OLD_DB" "$OLD_API") pod uid dir value leaks=0
  values+=("$(secret_data db-creds password)" "$(secret_data api-key token)")
  for pod in "${STEP_PODS[@]}"; do
    [[ -f "$WORK/$pod.log" ]] || k -n irsteps logs "$pod" >"$WORK/$pod.log" 2>&1 || true
    uid="$(k -n irsteps get pod "$pod" -o jsonpath='{.metadata.uid}')"
    dir="$STATE_DIR/node/kubelet/root/pods/$uid/volumes/kubernetes.io~empty-dir/tmp/outputs"
    [[ -d "$dir" ]] || { echo "no outputs of $pod"; return 1; }
    for value in "${values[@]}"; do
      [[ ${#value} -ge 16 ]] || { echo "a secret value read back is too short to look for"; return 1; }
      if grep -rqF -- "$value" "$WORK/$pod.log" "$dir"; then
        echo "a secret value is in $pod's log or outputs"; leaks=1
      fi
    done
  done
  [[ $leaks == 0 ]]
}
check "no old or new Secret value in any step pod's log or outputs" no_secret_ok

sed 's/^/[real-node-workloads] /' "$WORK/timings" >&2
echo "real-node-workloads: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
