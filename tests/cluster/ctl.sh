#!/usr/bin/env bash
# Controls single components of a cluster made by start.sh, mainly so tests
# can simulate an API server outage in the middle of a run.
#
# Usage: ctl.sh STATE_DIR COMMAND
#   stop-apiserver    graceful stop (SIGTERM) of kube-apiserver
#   kill-apiserver    abrupt stop (SIGKILL), like a crash
#   start-apiserver   start it again, same port/flags; waits for /readyz
#   restart-apiserver stop-apiserver + start-apiserver
#   stop NAME | kill NAME | start NAME | restart NAME
#                     the same for any component: etcd, kube-apiserver,
#                     kube-controller-manager, kube-scheduler, node-agent
#   status            one line per component: running (pid) or stopped
# Environment: IRSTEPS_START_TIMEOUT (default 120) seconds to wait on start.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_log_prefix=ctl
# shellcheck source=lib.sh
source "$HERE/lib.sh"

usage() { sed -n '2,16p' "$0" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
[[ -d "$1" ]] || die "state dir $1 does not exist"
STATE_DIR="$(cd "$1" && pwd)"
[[ -f "$STATE_DIR/.irsteps-cluster" ]] || die "$STATE_DIR was not made by start.sh"
action="$2"
name="${3:-}"
TIMEOUT="${IRSTEPS_START_TIMEOUT:-120}"

case "$action" in
  stop-apiserver|kill-apiserver|start-apiserver|restart-apiserver)
    name=kube-apiserver; action="${action%-apiserver}" ;;
  stop|kill|start|restart)
    [[ -n "$name" ]] || usage
    [[ " ${COMPONENTS[*]} " == *" $name "* ]] || die "unknown component $name (one of: ${COMPONENTS[*]})" ;;
  status)
    for c in "${COMPONENTS[@]}"; do
      if pid="$(component_pid "$c")"; then echo "$c running $pid"
      elif [[ -f "$STATE_DIR/run/$c.cmd" ]]; then echo "$c stopped"
      fi
    done
    exit 0 ;;
  *) usage ;;
esac

# Waits until NAME serves again; what "ready" means differs per component.
wait_ready() {
  load_ports
  case "$1" in
    etcd) wait_until "$TIMEOUT" "etcd health" \
            bash -c "curl -sf --max-time 2 'http://127.0.0.1:$ETCD_PORT/health' | grep -q '\"health\":\"true\"'" ;;
    kube-apiserver) wait_until "$TIMEOUT" "kube-apiserver /readyz" apiserver_ready ;;
    kube-controller-manager) wait_until "$TIMEOUT" "controller-manager /healthz" \
            bash -c "[[ \$(curl -sk --max-time 2 https://127.0.0.1:$CONTROLLER_MANAGER_PORT/healthz) == ok ]]" ;;
    kube-scheduler) wait_until "$TIMEOUT" "scheduler /healthz" \
            bash -c "[[ \$(curl -sk --max-time 2 https://127.0.0.1:$SCHEDULER_PORT/healthz) == ok ]]" ;;
    node-agent) wait_until "$TIMEOUT" "node agent port" port_in_use "$NODE_AGENT_PORT" ;;
  esac
}

do_stop() {
  if component_pid "$name" >/dev/null; then
    stop_component "$name" "$1"
    log "$name stopped"
  else
    log "$name was not running"
  fi
}
do_start() {
  if pid="$(component_pid "$name")"; then
    log "$name already running (pid $pid)"
  else
    relaunch "$name"
  fi
  WAIT_COMPONENT="$name" wait_ready "$name"
  log "$name running (pid $(component_pid "$name"))"
}

case "$action" in
  stop) do_stop TERM ;;
  kill) do_stop KILL ;;
  start) do_start ;;
  restart) do_stop TERM; do_start ;;
esac
