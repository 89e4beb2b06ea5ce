#!/usr/bin/env bash
# Installs sigstore-js, the independent verifier of the differential tests,
# at the exact versions of package-lock.json (npm ci), into a cache folder
# outside the work tree, and prints that folder's node_modules. Idempotent:
# quick when the cache already holds this lock file's packages.
#
#   SIGSTORE_JS_DIR   where to install (default: $XDG_CACHE_HOME/irsteps or
#                     ~/.cache/irsteps, then sigstore-js-<hash of the lock>)
# Exit 0 installed; 1 npm failed (offline registry, say); 77 no node or npm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install.sh: $tool not found" >&2; exit 77; }
done
lock_hash=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
cache="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/irsteps"
dir="${SIGSTORE_JS_DIR:-$cache/sigstore-js-$lock_hash}"
mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9  # two test runs at once install once
if [[ -f "$dir/installed" && "$(cat "$dir/installed")" == "$lock_hash" ]]; then
  echo "$dir/node_modules"
  exit 0
fi
mkdir -p "$dir"
cp "$here/package.json" "$here/package-lock.json" "$dir/"
# --ignore-scripts: none of these packages needs an install script, and a
# test dependency has no business running one.
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
echo "$lock_hash" > "$dir/installed"
echo "$dir/node_modules"
