#!/usr/bin/env bash
# ctest's fixture around the integration tests: builds the node agent and
# starts the local control plane before them, stops it after. With
# IRSTEPS_TEST_KUBECONFIG set, the tests use that cluster and this does nothing.
# start-real starts a second cluster with a real node (start.sh --node real)
# for the tests that need real containers; IRSTEPS_TEST_KUBECONFIG does not
# replace it, and stop-real stops it and removes its state.
#
# Usage: ctest-fixture.sh start|stop|start-real|stop-real STATE_DIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
action="$1"
state_dir="$2"

case "$action" in
  start-real)
    "$HERE/stop.sh" --clean "$state_dir" >/dev/null 2>&1 || true
    # The API server's audit log, for access-audit run as a pod.
    for attempt in 1 2 3; do
      if IRSTEPS_CLUSTER_AUDIT=1 "$HERE/start.sh" --node real "$state_dir"; then exit 0; fi
      grep -qs "address already in use" "$state_dir"/logs/*.log || exit 1
      echo "[fixture] a port was taken while the cluster started (attempt $attempt of 3)" >&2
    done
    exit 1
    ;;
  stop-real)
    exec "$HERE/stop.sh" --clean "$state_dir"
    ;;
esac

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
    # A port checked free can still be taken by another test before the
    # component binds it; start.sh then stops what it started, and a new
    # start picks new ports. Any other failure is final.
    for attempt in 1 2 3; do
      if IRSTEPS_CLUSTER_AUDIT=1 "$HERE/start.sh" "$state_dir"; then exit 0; fi
      grep -qs "address already in use" "$state_dir"/logs/*.log || exit 1
      echo "[fixture] a port was taken while the cluster started (attempt $attempt of 3)" >&2
    done
    exit 1
    ;;
  stop)
    "$HERE/stop.sh" "$state_dir"
    ;;
  *)
    echo "usage: $0 start|stop|start-real|stop-real STATE_DIR" >&2
    exit 2
    ;;
esac
