#!/usr/bin/env bash
# Stops every process start.sh started for STATE_DIR (pids in STATE_DIR/run),
# newest first, so nothing is left running. Logs, certs and data stay for
# post-mortems unless --clean is given.
#
# Usage: stop.sh [--clean] [STATE_DIR]
#   STATE_DIR defaults to $IRSTEPS_CLUSTER_DIR or /tmp/irsteps-cluster.
#   --clean  also delete STATE_DIR (only if start.sh made it).
# Exit status is 0 when nothing of the cluster is left running, even if it
# was never started, so it is safe in cleanup traps.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_log_prefix=stop
# shellcheck source=lib.sh
source "$HERE/lib.sh"

CLEAN=0
ARG_DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --clean) CLEAN=1 ;;
    -h|--help) sed -n '2,11p' "$0" >&2; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) [[ -z "$ARG_DIR" ]] || die "only one STATE_DIR allowed"; ARG_DIR="$1" ;;
  esac
  shift
done
d="${ARG_DIR:-${IRSTEPS_CLUSTER_DIR:-/tmp/irsteps-cluster}}"
if [[ ! -d "$d" ]]; then
  log "$d does not exist: nothing to stop"
  exit 0
fi
STATE_DIR="$(cd "$d" && pwd)"

# A real node first (start.sh --node real): its pods' containers, the
# kubelet, containerd, and what they made outside STATE_DIR.
if [[ -d "$STATE_DIR/node" ]]; then
  # shellcheck source=real-node.sh
  source "$HERE/real-node.sh"
  real_node_stop
fi

# Reverse start order: clients (node agent, controllers) before the API
# server, the API server before etcd, so shutdowns do not log spurious errors.
for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
  c="${COMPONENTS[$i]}"
  if pid="$(component_pid "$c")"; then
    log "stopping $c (pid $pid)"
    stop_component "$c"
  else
    rm -f "$(pid_file "$c")"
  fi
done

if [[ $CLEAN == 1 ]]; then
  if [[ -f "$STATE_DIR/.irsteps-cluster" ]]; then
    rm -rf "$STATE_DIR"
    log "removed $STATE_DIR"
  else
    log "not removing $STATE_DIR: it was not made by start.sh"
  fi
fi
log "stopped"
