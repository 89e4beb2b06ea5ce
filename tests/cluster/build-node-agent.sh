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

log() { printf '[build-node-agent] %s\n' "$*" >&2; }

if ! compgen -G "$SRC/*.go" >/dev/null; then
  log "no Go files in $SRC yet: skipping (start.sh then runs without a node)"
  exit 0
fi

# Installed here because CI starts from a fresh machine; a no-op otherwise.
if ! dpkg-query -W -f='${Status}' golang-go 2>/dev/null | grep -q 'install ok installed'; then
  log "installing golang-go"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-go >&2
fi

mkdir -p "$(dirname "$OUT")"
OUT="$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")"
# Stdlib only: modules on, but no proxy, so a stray dependency fails loudly
# instead of trying the network.
(cd "$SRC" && GO111MODULE=on GOFLAGS=-mod=mod GOPROXY=off CGO_ENABLED=0 go build -o "$OUT" .)
log "built $OUT"
echo "$OUT"
