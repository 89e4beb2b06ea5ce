#!/usr/bin/env bash
# Builds the irsteps images offline from built binaries with buildah: one per
# step and one for the executor plugin, each FROM scratch with the binary's
# exact shared-library closure (assemble.sh), reproducible (--timestamp 0 and
# files dated 0, so the same binaries give the same digests).
#
# Usage: containers/build.sh BIN_DIR [NAME_PREFIX]
#   BIN_DIR: the build's bin folder; its irsteps-steps.txt (written by CMake
#   from steps/CMakeLists.txt) names the steps, and irsteps-plugin is added.
#   NAME_PREFIX default: localhost/irsteps  ->  localhost/irsteps/<step>:<version>
# Prints one line per image: NAME IMAGE_ID.
# Environment: BUILDAH_STORAGE_DRIVER (default vfs), plus assemble.sh's.
set -euo pipefail
bin_dir="$1"
prefix="${2:-localhost/irsteps}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="${IRSTEPS_VERSION:-$(sed -n 's/^project(irsteps VERSION \([0-9.]*\).*/\1/p' "$here/../CMakeLists.txt")}"
driver="${BUILDAH_STORAGE_DRIVER:-vfs}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

[[ -f "$bin_dir/irsteps-steps.txt" ]] || { echo "build.sh: $bin_dir/irsteps-steps.txt is missing (configure with CMake)" >&2; exit 1; }
mapfile -t steps < "$bin_dir/irsteps-steps.txt"
for name in "${steps[@]}" irsteps-plugin; do
  [[ -x "$bin_dir/$name" ]] || { echo "build.sh: $bin_dir/$name is missing" >&2; exit 1; }
  image="$prefix/$name:$version"
  "$here/assemble.sh" "$bin_dir/$name" "$work/$name"
  buildah --storage-driver "$driver" bud --quiet --isolation chroot --pull=never --timestamp 0 \
    --layers=false -t "$image" -f "$work/$name/Containerfile" "$work/$name" >/dev/null
  echo "$image $(buildah --storage-driver "$driver" inspect --format '{{.FromImageID}}' "$image")"
done
