#!/usr/bin/env bash
# Builds the kubelet for the real node (start.sh --node real) from the same
# patched Kubernetes 1.20.2 source tree, GOPATH and Go build cache that
# build-control-plane.sh prepares, and caches it in a folder of its own, so
# that neither adding it nor changing this recipe invalidates the control
# plane's cache (CI keys that cache by build-control-plane.sh and patches/).
#
# Usage: build-kubelet.sh [--force]
#   stdout: the bin dir holding the kubelet (the only stdout line)
#   stderr: progress; the build log is appended to $WORK/build.log
# Environment: as build-control-plane.sh (IRSTEPS_CACHE_DIR, IRSTEPS_BUILD_DIR).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_log_prefix=build-kubelet
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# Bump KUBELET_REV when this recipe changes; the control plane's PATCH_REV
# (its patches) is part of the key too.
KUBELET_REV=k1
# The control plane's versions and scratch tree, read from its script so the
# two never disagree.
cp_var() { sed -n "s/^$1=\\(.*\\)$/\\1/p" "$HERE/build-control-plane.sh" | head -n1; }
K8S_VERSION="$(cp_var K8S_VERSION)"
DEB_SRC_VERSION="$(cp_var DEB_SRC_VERSION)"
PATCH_REV="$(cp_var PATCH_REV)"
[[ -n "$K8S_VERSION" && -n "$DEB_SRC_VERSION" && -n "$PATCH_REV" ]] \
  || die "cannot read K8S_VERSION, DEB_SRC_VERSION, PATCH_REV from build-control-plane.sh"
CACHE_DIR="${IRSTEPS_CACHE_DIR:-/var/cache/irsteps}"
OUT_DIR="$CACHE_DIR/kubelet-$K8S_VERSION-$PATCH_REV-$KUBELET_REV"
BIN_DIR="$OUT_DIR/bin"
WORK="${IRSTEPS_BUILD_DIR:-$CACHE_DIR/build/kubernetes-$DEB_SRC_VERSION}"

FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  "") ;;
  -h|--help) sed -n '2,11p' "$0" >&2; exit 0 ;;
  *) die "unknown argument: $1 (usage: $0 [--force])" ;;
esac

if [[ $FORCE == 0 && -x "$BIN_DIR/kubelet" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

# The control plane first: it fetches, unpacks and patches the source. When
# its binaries are cached but its scratch tree is gone (IRSTEPS_KEEP_BUILD=0),
# --force makes the tree again.
"$HERE/build-control-plane.sh" >/dev/null
SRC="$WORK/src/kubernetes"
tree_ok() {
  local p
  [[ -f "$SRC/.irsteps-extracted" ]] || return 1
  for p in "$HERE"/patches/*.patch; do [[ -f "$SRC/.irsteps-patched-$(basename "$p")" ]] || return 1; done
}
if ! tree_ok; then
  log "no patched source tree in $WORK: building the control plane again to make it"
  IRSTEPS_KEEP_BUILD=1 "$HERE/build-control-plane.sh" --force >/dev/null
  tree_ok || die "build-control-plane.sh --force left no patched source tree in $WORK"
fi

# Same lock as build-control-plane.sh: one build in the tree at a time.
exec 9>"$CACHE_DIR/.build-control-plane.lock"
flock 9
if [[ $FORCE == 0 && -x "$BIN_DIR/kubelet" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

command -v go >/dev/null || die "go not found (build-control-plane.sh installs golang-go)"
export GOPATH="$WORK/gopath"
export GO111MODULE=off GOFLAGS='' GOPROXY=off CGO_ENABLED=0 GOCACHE="$WORK/gocache"
[[ -L "$GOPATH/src/k8s.io/kubernetes" ]] || die "$GOPATH/src/k8s.io/kubernetes missing"
# cd through the symlink: go resolves import paths from $PWD.
cd "$GOPATH/src/k8s.io/kubernetes"
BUILD_LOG="$WORK/build.log"
T0=$SECONDS

# Version variables as build-control-plane.sh sets them (upstream's
# hack/lib/version.sh), so the Node reports kubelet v1.20.2.
ldflags="-s -w"
for pkg in k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version k8s.io/kubernetes/vendor/k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=20"
  ldflags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=2021-01-13T00:00:00Z"
done
log "compiling the kubelet (about 3.5 min on 2 cores after the control plane's build)"
STAGE="$WORK/out-kubelet"
rm -rf "$STAGE"; mkdir -p "$STAGE"
echo "==== $(date -u +%FT%TZ) build-kubelet.sh" >>"$BUILD_LOG"
go build -o "$STAGE/kubelet" -ldflags "$ldflags" k8s.io/kubernetes/cmd/kubelet >>"$BUILD_LOG" 2>&1 \
  || { tail -n 30 "$BUILD_LOG" >&2; die "go build of the kubelet failed, see $BUILD_LOG"; }
[[ -x "$STAGE/kubelet" ]] || die "go build did not produce the kubelet"

# Swap in a complete bin dir at once so a reader never sees a partial cache.
mkdir -p "$OUT_DIR"
rm -rf "$OUT_DIR/bin.new" "$OUT_DIR/bin.old"
cp -a "$STAGE" "$OUT_DIR/bin.new"
[[ -d "$BIN_DIR" ]] && mv "$BIN_DIR" "$OUT_DIR/bin.old"
mv "$OUT_DIR/bin.new" "$BIN_DIR"
rm -rf "$OUT_DIR/bin.old" "$STAGE"
{
  echo "kubelet $K8S_VERSION from Debian source $(cat "$SRC/.irsteps-extracted"), control-plane patches $PATCH_REV"
  echo "recipe $KUBELET_REV, go $(go env GOVERSION), built $(date -u +%FT%TZ) in $((SECONDS - T0)) s"
} >"$OUT_DIR/BUILD-INFO"
log "done in $((SECONDS - T0)) s"
echo "$BIN_DIR"
