#!/usr/bin/env bash
# End-to-end check of the test node agent against the real control plane:
# builds the agent, starts a private cluster (start.sh) with it, and checks
# node readiness and heartbeats, pods Running, `kubectl logs` (--previous,
# --tail, --timestamps, --limit-bytes, -f), `kubectl exec` (WebSocket v5,
# exit codes, stdin, distroless hook), an ephemeral debug container that sees
# its target's files as /proc/1/root, a crash-looping rollout that never
# becomes healthy, and pod deletion. Always stops its cluster.
#
# Usage: e2e.sh [WORK_DIR]   (default: a new /tmp/na-e2e.XXXXXX, removed on success)
# Needs: kubectl (>= 1.30 for WebSocket exec), Go, the control-plane build.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER="$(cd "$HERE/.." && pwd)"
WORK="${1:-$(mktemp -d /tmp/na-e2e.XXXXXX)}"
mkdir -p "$WORK"
STATE="$WORK/state"
FAILS=0
log() { printf '[node-agent-e2e] %s\n' "$*" >&2; }
check() { # check NAME COMMAND...: PASS/FAIL line, never aborts the run
  local name="$1"; shift
  if "$@" >"$WORK/check.out" 2>&1; then log "PASS $name"; else
    log "FAIL $name"; sed 's/^/    /' "$WORK/check.out" >&2; FAILS=$((FAILS + 1)); fi
}
cleanup() {
  "$CLUSTER/stop.sh" "$STATE" >/dev/null 2>&1 || true
  if [[ $FAILS == 0 && -z "${1:-}" ]]; then rm -rf "$WORK"; else log "logs kept in $STATE/logs"; fi
}
trap 'cleanup keep' ERR INT TERM

(cd "$HERE" && GO111MODULE=on GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0 go build -o "$WORK/node-agent" .)
# ctest runs this beside the fixtures that start the other clusters: a port
# checked free can be taken before a component binds it. start.sh then stops
# what it started and a new start picks new ports (as ctest-fixture.sh does).
for attempt in 1 2 3; do
  if IRSTEPS_NODE_AGENT="$WORK/node-agent" "$CLUSTER/start.sh" "$STATE" >/dev/null; then break; fi
  grep -qs "address already in use" "$STATE"/logs/*.log && [[ $attempt -lt 3 ]] || { log "the cluster did not start"; cleanup keep; exit 1; }
  log "a port was taken while the cluster started (attempt $attempt of 3)"
done
export KUBECONFIG="$STATE/kubeconfig"
AGENT_LOG="$STATE/logs/node-agent.log"
NODE=irsteps-node-0

# The node lifecycle controller removes its not-ready taint a moment after
# the node turns Ready; wait for that rather than racing it.
check "node Ready without taints" bash -c "
  kubectl wait --for=condition=Ready node/$NODE --timeout=30s &&
  for i in \$(seq 60); do
    [[ -z \$(kubectl get node $NODE -o jsonpath='{.spec.taints}') ]] && exit 0
    sleep 0.5
  done
  kubectl get node $NODE -o jsonpath='{.spec.taints}'; exit 1"

kubectl apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {irsteps.io/test-restarts: "2", irsteps.io/test-log: "hello from annotation\nsecond line"}
    spec:
      containers:
      - {name: app, image: "nginx:1.19", env: [{name: GREETING, value: bonjour}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: crash}
spec:
  replicas: 1
  progressDeadlineSeconds: 5
  selector: {matchLabels: {app: crash}}
  template:
    metadata: {labels: {app: crash}, annotations: {irsteps.io/test-fail: CrashLoopBackOff}}
    spec: {containers: [{name: app, image: "nginx:1.19"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: distroless, annotations: {irsteps.io/test-no-shell: "true"}}
spec: {containers: [{name: app, image: "gcr.io/distroless/static:nonroot"}]}
YAML

check "deployment web rolls out" kubectl rollout status deploy/web --timeout=60s
POD="$(kubectl get pod -l app=web -o jsonpath='{.items[0].metadata.name}')"
check "pod status fields" bash -c "
  s=\$(kubectl get pod $POD -o jsonpath='{.status.phase} {.status.podIP} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].imageID}')
  want=\"Running 10.244.* 2 docker-pullable://nginx@sha256:\$(printf %s nginx:1.19 | sha256sum | cut -d' ' -f1)\"
  echo \"\$s\"; [[ \$s == \$want ]]"

check "logs" bash -c "kubectl logs $POD | tee /dev/stderr | grep -qx 'second line'"
check "logs --previous" bash -c "kubectl logs $POD --previous | grep -q 'previous instance started'"
check "logs --tail=1" bash -c "[[ \$(kubectl logs $POD --tail=1) == 'second line' ]]"
check "logs --timestamps" bash -c "kubectl logs $POD --tail=1 --timestamps | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z second line$'"
check "logs --limit-bytes=7" bash -c "[[ \$(kubectl logs $POD --limit-bytes=7) == 'irsteps' ]]"
check "logs --previous without a previous container is BadRequest" bash -c '
  out=$(kubectl logs distroless --previous 2>&1) && exit 1; echo "$out"
  [[ $out == *BadRequest*"previous terminated container \"app\" in pod \"distroless\" not found"* ]]'
check "logs -f streams lines appended to the file" bash -c '
  f=$(ls '"$STATE"'/node-agent/pods/default_'"$POD"'_*/app/0.log)
  (timeout 5 kubectl logs -f '"$POD"' --tail=0 >'"$WORK"'/follow.out 2>&1 || true) &
  sleep 2; echo "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ) stdout F appended by e2e" >>"$f"; wait
  grep -qx "appended by e2e" '"$WORK"'/follow.out'

check "exec exit 3 via WebSocket" bash -c "
  out=\$(kubectl exec $POD -- sh -c 'echo hi; echo err >&2; exit 3' 2>$WORK/exec.err); rc=\$?
  cat $WORK/exec.err; [[ \$rc == 3 && \$out == hi ]] && grep -qx err $WORK/exec.err &&
  grep -q 'command terminated with exit code 3' $WORK/exec.err"
check "exec used subprotocol v5.channel.k8s.io" bash -c "
  grep agent.exec.start $AGENT_LOG | tail -1 | tee /dev/stderr | grep -q '\"protocol\":\"v5.channel.k8s.io\"'"
check "exec env, stdin" bash -c "
  [[ \$(printf 'a\nb\n' | kubectl exec -i $POD -- sh -c 'echo \$GREETING; wc -l') == \$'bonjour\n2' ]]"
check "exec command not found fails" bash -c '
  out=$(kubectl exec '"$POD"' -- no-such-command 2>&1) && exit 1; echo "$out"
  [[ $out == *"executable file not found in \$PATH"* ]]'
check "exec sh in a no-shell pod exits 126" bash -c "kubectl exec distroless -- sh -c true; [[ \$? == 126 ]]"

# Ephemeral containers (1.20 alpha form of the subresource: an
# EphemeralContainers object). The debug container targets "app": it runs in
# the PID namespace of app's main process, where /proc/1/root is app's files.
check "ephemeral container with a target: running, PID 1 is the target, /proc/1/root its files" bash -c '
  set -euo pipefail
  root=$(ls -d '"$STATE"'/node-agent/pods/default_distroless_*/app/rootfs); mkdir -p "$root/etc"
  echo "only in app" >"$root/etc/marker"
  kubectl patch pod distroless --subresource=ephemeralcontainers --type=strategic -p "{\"apiVersion\":\"v1\",
    \"kind\":\"EphemeralContainers\",\"ephemeralContainers\":[{\"name\":\"debugger\",\"image\":\"busybox:1.36\",
    \"targetContainerName\":\"app\",\"stdin\":true,\"terminationMessagePolicy\":\"File\"}]}"
  for i in $(seq 50); do
    [[ -n $(kubectl get pod distroless -o jsonpath="{.status.ephemeralContainerStatuses[0].state.running}") ]] && break
    sleep 0.2
  done
  kubectl get pod distroless -o jsonpath="{.status.ephemeralContainerStatuses[0]}"; echo
  [[ -n $(kubectl get pod distroless -o jsonpath="{.status.ephemeralContainerStatuses[0].state.running}") ]]
  [[ $(kubectl exec distroless -c debugger -- cat /proc/1/root/etc/marker) == "only in app" ]]
  [[ $(kubectl exec distroless -c debugger -- tar cf - -C /proc/1/root . | tar tf - | grep -c etc/marker) == 1 ]]
  n=$(kubectl exec distroless -c debugger -- sh -c "ls -d /proc/[0-9]* | wc -l"); echo "pids seen: $n"; (( n < 6 ))
  kubectl logs distroless -c debugger | grep -q "irsteps test container debugger started"
  rc=0; kubectl exec distroless -- sh -c true || rc=$?; [[ $rc == 126 ]]  # the app image still has no shell
  grep agent.container.init '"$AGENT_LOG"' | tail -1 | sed "s/.*\"pid\":\([0-9]*\).*/\1/" >'"$WORK"'/init.pid
  kill -0 "$(cat '"$WORK"'/init.pid)"'

check "crash-looping rollout never becomes healthy" bash -c "
  ! kubectl rollout status deploy/crash --timeout=30s &&
  [[ \$(kubectl get pod -l app=crash -o jsonpath='{.items[0].status.containerStatuses[0].state.waiting.reason}') == CrashLoopBackOff ]]"

check "lease and heartbeat renewed" bash -c "
  l1=\$(kubectl get lease -n kube-node-lease $NODE -o jsonpath='{.spec.renewTime}'); sleep 12
  l2=\$(kubectl get lease -n kube-node-lease $NODE -o jsonpath='{.spec.renewTime}'); echo \"\$l1 -> \$l2\"; [[ \$l1 != \$l2 ]]"

check "pod deletion completes" bash -c "timeout 20 kubectl delete pod $POD --wait=true"
check "SIGTERM stops the agent cleanly and kills exec'd processes" bash -c '
  p=$(kubectl get pod -l app=web --field-selector=status.phase=Running -o jsonpath="{.items[0].metadata.name}")
  (kubectl exec "$p" -- sh -c "echo \$\$; exec sleep 300" >'"$WORK"'/sleep.pid 2>/dev/null &)
  for i in $(seq 50); do [[ -s '"$WORK"'/sleep.pid ]] && break; sleep 0.1; done
  pid=$(cat '"$WORK"'/sleep.pid); echo "exec pid $pid"; kill -0 "$pid"
  '"$CLUSTER"'/ctl.sh '"$STATE"' stop node-agent
  grep -q "\"event\":\"agent.stopped\"" '"$AGENT_LOG"' && ! kill -0 "$pid" 2>/dev/null'
check "container main processes end with the agent" bash -c '[[ -s '"$WORK"'/init.pid ]] && ! kill -0 "$(cat '"$WORK"'/init.pid)" 2>/dev/null'
check "agent logs are JSON lines" bash -c "grep -v '^====' $AGENT_LOG | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'"

if [[ $FAILS == 0 ]]; then log "all checks passed"; cleanup; exit 0; fi
log "$FAILS check(s) failed"; cleanup keep; exit 1
