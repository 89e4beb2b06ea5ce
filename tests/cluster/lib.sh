# shellcheck shell=bash
# Shared helpers for start.sh, stop.sh and ctl.sh. Sourced, not executed.
#
# State dir layout (all under STATE_DIR):
#   .irsteps-cluster   marker: this dir is ours, start.sh may wipe it
#   pki/               CA, serving/client certs, service-account keys, tokens
#   etcd/              etcd data
#   logs/NAME.log      stdout+stderr of each component (appended on restart)
#   run/NAME.pid       pid of each running component
#   run/NAME.cmd       its command line, NUL-separated, for ctl.sh restarts
#   ports.env          the ports picked at start (reused by ctl.sh)
#   env.sh             KUBECONFIG, API URL, admin token, ... for tests to source
#   kubeconfig         admin kubeconfig (token auth, CA embedded)

# Start order; stop.sh walks it backwards.
# shellcheck disable=SC2034  # used by the scripts that source this file
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler node-agent containerd kubelet)

_log_prefix="${_log_prefix:-cluster}"
log() { printf '[%s] %s\n' "$_log_prefix" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "$_log_prefix" "$*" >&2; exit 1; }

# Resolve STATE_DIR from $1 / IRSTEPS_CLUSTER_DIR / default, as an absolute path
# (components get absolute paths so they do not depend on our cwd).
resolve_state_dir() {
  local d="${1:-${IRSTEPS_CLUSTER_DIR:-/tmp/irsteps-cluster}}"
  mkdir -p "$d"
  (cd "$d" && pwd)
}

pid_file() { echo "$STATE_DIR/run/$1.pid"; }

# Start time of process $1 in clock ticks since boot (field 22 of
# /proc/PID/stat; the command name before it may contain spaces, so cut at
# the last ")").
proc_starttime() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# Prints the pid of component $1 if it is running. The pid file holds
# "PID STARTTIME": a pid is only trusted if that process still has the same
# start time, so after a crash or reboot a recycled pid belonging to some
# unrelated process is never signalled.
component_pid() {
  local f pid start now
  f="$(pid_file "$1")"
  [[ -f "$f" ]] || return 1
  read -r pid start <"$f" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  now="$(proc_starttime "$pid")" || return 1
  if [[ -n "$start" ]]; then
    [[ "$now" == "$start" ]] || return 1
  else
    # Pid file from an older version of these scripts (pid only): trust the
    # pid if the process's command line names this state dir.
    local cmdline
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$STATE_DIR"* ]] || return 1
  fi
  # zombie (exited, not yet reaped) counts as stopped
  [[ "$(awk '/^State:/{print $2}' "/proc/$pid/status" 2>/dev/null)" != Z ]] || return 1
  echo "$pid"
}

# launch NAME CMD ARGS... : start a component in the background, detached
# from our stdin/stdout, log appended to logs/NAME.log, pid + command saved.
launch() {
  local name="$1"; shift
  mkdir -p "$STATE_DIR/run" "$STATE_DIR/logs"
  printf '%s\0' "$@" >"$STATE_DIR/run/$name.cmd"
  printf '==== %s starting %s\n' "$(date -u +%FT%TZ)" "$name" >>"$STATE_DIR/logs/$name.log"
  # nohup: survive the caller's terminal going away (CI, interactive shells).
  nohup "$@" </dev/null >>"$STATE_DIR/logs/$name.log" 2>&1 &
  local pid=$!
  echo "$pid $(proc_starttime "$pid")" >"$(pid_file "$name")"
}

# relaunch NAME : start a component again with the command saved by launch.
relaunch() {
  local name="$1" cmdf="$STATE_DIR/run/$1.cmd"
  [[ -f "$cmdf" ]] || die "$name was never started in $STATE_DIR (no $cmdf)"
  local -a cmd
  mapfile -d '' -t cmd <"$cmdf"
  launch "$name" "${cmd[@]}"
}

# stop_component NAME [SIGNAL] : stop a component and wait until it is gone.
# With TERM (default): SIGTERM, then after IRSTEPS_STOP_GRACE seconds (default
# 5) a second SIGTERM, then after 5 s more SIGKILL. Why: kube-apiserver stops
# listening at once on SIGTERM but then waits up to its request timeout (60 s)
# for open watches (controller-manager, scheduler, tests) to end; Kubernetes
# components exit immediately on a second SIGTERM. With KILL: SIGKILL only
# (simulates a crash).
stop_component() {
  local name="$1" sig="${2:-TERM}" pid i grace="${IRSTEPS_STOP_GRACE:-5}"
  if ! pid="$(component_pid "$name")"; then
    rm -f "$(pid_file "$name")"
    return 0
  fi
  _wait_gone() {  # $1 = seconds
    for ((i = 0; i < $1 * 10; i++)); do
      component_pid "$name" >/dev/null || return 0
      sleep 0.1
    done
    return 1
  }
  if [[ "$sig" == KILL ]]; then
    kill -KILL "$pid" 2>/dev/null || true
    _wait_gone 10 || die "$name (pid $pid) survived SIGKILL"
  else
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! _wait_gone "$grace"; then
      kill -TERM "$pid" 2>/dev/null || true
      if ! _wait_gone 5; then
        log "$name (pid $pid) still running 5 s after a second SIGTERM, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        _wait_gone 10 || die "$name (pid $pid) survived SIGKILL"
      fi
    fi
  fi
  rm -f "$(pid_file "$name")"
  printf '==== %s stopped %s (SIG%s)\n' "$(date -u +%FT%TZ)" "$name" "$sig" >>"$STATE_DIR/logs/$name.log"
}

# Is something listening on 127.0.0.1:PORT? Pure bash, no extra tools.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until TIMEOUT_S DESCRIPTION CMD... : poll CMD every 0.25 s.
# Fails early when component $WAIT_COMPONENT (if set) has died.
wait_until() {
  local timeout="$1" what="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ -n "${WAIT_COMPONENT:-}" ]] && ! component_pid "$WAIT_COMPONENT" >/dev/null; then
      tail -n 40 "$STATE_DIR/logs/$WAIT_COMPONENT.log" >&2 || true
      die "$WAIT_COMPONENT exited while waiting for $what (log: $STATE_DIR/logs/$WAIT_COMPONENT.log)"
    fi
    if ((SECONDS >= deadline)); then
      [[ -n "${WAIT_COMPONENT:-}" ]] && { tail -n 40 "$STATE_DIR/logs/$WAIT_COMPONENT.log" >&2 || true; }
      die "timed out after ${timeout}s waiting for $what"
    fi
    sleep 0.25
  done
}

# api_get PATH : GET against the API server as admin; fails on non-2xx.
api_get() {
  curl -sf --max-time 5 --cacert "$STATE_DIR/pki/ca.crt" \
    -H "Authorization: Bearer $(cat "$STATE_DIR/pki/admin.token")" \
    "https://127.0.0.1:$APISERVER_PORT$1"
}

apiserver_ready() { [[ "$(api_get /readyz)" == ok ]]; }

load_ports() {
  [[ -f "$STATE_DIR/ports.env" ]] || die "$STATE_DIR/ports.env missing: was the cluster started with start.sh?"
  # shellcheck disable=SC1091
  source "$STATE_DIR/ports.env"
}

# Installs Debian packages that are missing (CI starts from a fresh machine);
# a no-op when all are there. apt-get update runs at most once per script.
APT_UPDATED=0
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} == 0 ]] && return 0
  log "installing: ${missing[*]}"
  if [[ $APT_UPDATED == 0 ]]; then apt-get update -qq >&2; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The test scripts' checks: `check NAME CMD...` runs CMD, counts it in
# PASSED or FAILED by its exit status and prints ok/FAIL with the time, and on
# failure the last lines of its output.
PASSED=0 FAILED=0
check() {
  local name="$1"; shift
  local t0=$SECONDS out
  if out="$("$@" 2>&1)"; then
    PASSED=$((PASSED + 1)); echo "ok   $name ($((SECONDS - t0)) s)"
  else
    FAILED=$((FAILED + 1)); echo "FAIL $name ($((SECONDS - t0)) s)"; printf '%s\n' "$out" | tail -n 40 | sed 's/^/     /'
  fi
}

# The arguments of a real-node step test, STATE_DIR BIN_DIR: sets both,
# sources the cluster's env.sh, and dies unless its node is real.
real_node_test_args() {
  [[ $# == 2 ]] || die "usage: $0 STATE_DIR BIN_DIR"
  [[ -f "$1/env.sh" ]] || die "no cluster in $1 (run start.sh --node real first)"
  STATE_DIR="$(cd "$1" && pwd)"
  BIN_DIR="$(cd "$2" && pwd)"
  # shellcheck disable=SC1091
  source "$STATE_DIR/env.sh"
  [[ "${IRSTEPS_NODE_KIND:-}" == real ]] || die "the cluster in $STATE_DIR has no real node (start.sh --node real)"
}
