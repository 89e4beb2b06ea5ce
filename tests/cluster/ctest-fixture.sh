#!/usr/bin/env bash
# ctest's fixture around the integration tests: builds the node agent and
# starts the local control plane before them, stops it after. With
# IRSTEPS_TEST_KUBECONFIG set, the tests use that cluster and this does nothing.
#
# Usage: ctest-fixture.sh start|stop STATE_DIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
action="$1"
state_dir="$2"

if [[ -n "${IRSTEPS_TEST_KUBECONFIG:-}" ]]; then
  echo "using the cluster of IRSTEPS_TEST_KUBECONFIG=$IRSTEPS_TEST_KUBECONFIG"
  exit 0
fi

case "$action" in
  start)
    "$HERE/stop.sh" "$state_dir" >/dev/null 2>&1 || true
    "$HERE/build-control-plane.sh" >/dev/null
    "$HERE/build-node-agent.sh" "$(dirname "$state_dir")/node-agent" >/dev/null
    # The API server's own audit log, for access-audit's tests.
    IRSTEPS_CLUSTER_AUDIT=1 "$HERE/start.sh" "$state_dir"
    ;;
  stop)
    "$HERE/stop.sh" "$state_dir"
    ;;
  *)
    echo "usage: $0 start|stop STATE_DIR" >&2
    exit 2
    ;;
esac
