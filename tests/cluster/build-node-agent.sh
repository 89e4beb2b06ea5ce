#!/usr/bin/env bash
# Builds the test node agent (tests/cluster/node-agent, Go stdlib only) to
# OUTPUT, where start.sh looks for it (by default STATE_DIR/../node-agent).
#
# Usage: build-node-agent.sh [OUTPUT]
#   OUTPUT defaults to $(dirname ${IRSTEPS_CLUSTER_DIR:-/tmp/irsteps-cluster})/node-agent
#   stdout: OUTPUT when built; nothing when skipped (no Go files yet).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC="$HERE/node-agent"
OUT="${1:-$(dirname "${IRSTEPS_CLUSTER_DIR:-/tmp/irsteps-cluster}")/node-agent}"

_log_prefix=build-node-agent
# shellcheck source=lib.sh
source "$HERE/lib.sh"

if ! compgen -G "$SRC/*.go" >/dev/null; then
  log "no Go files in $SRC yet: skipping (start.sh then runs without a node)"
  exit 0
fi

ensure_pkgs golang-go

mkdir -p "$(dirname "$OUT")"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
# Stdlib only: modules on, but no proxy, so a stray dependency fails loudly
# instead of trying the network.
(cd "$SRC" && GO111MODULE=on GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0 go build -o "$OUT" .)
log "built $OUT"
echo "$OUT"
