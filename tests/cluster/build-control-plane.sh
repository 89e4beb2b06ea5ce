#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager and kube-scheduler from
# Debian's "kubernetes" source package (upstream 1.20.2 with vendor/), because
# Debian ships no API server binary and the test machines reach no other
# download site. The result is cached, keyed by upstream version and by the
# revision of our own patches, so every run after the first takes well under a
# second.
#
# Usage: build-control-plane.sh [--force]
#   stdout: the bin dir holding the three binaries (the only stdout line)
#   stderr: progress; the full build log is in $WORK/build.log
#
# Environment:
#   IRSTEPS_CACHE_DIR    cache root (default /var/cache/irsteps)
#   IRSTEPS_BUILD_DIR    scratch tree for source + GOPATH + go build cache
#                        (default $IRSTEPS_CACHE_DIR/build/kubernetes-<debver>)
#   IRSTEPS_DEBIAN_MIRROR  Debian mirror URL for the deb-src list (default:
#                        the first .../debian URI found in /etc/apt, else
#                        http://deb.debian.org/debian)
#   IRSTEPS_KEEP_BUILD=0 delete the scratch tree after a successful build
set -euo pipefail

# ---- versions ---------------------------------------------------------------
# The Debian source version we know builds; a later Debian revision of the same
# upstream release is accepted too (the archive keeps only the newest one).
K8S_VERSION=1.20.2
DEB_SRC_VERSION=1.20.5+really1.20.2-1.1+deb12u1
# Bump PATCH_REV whenever patches/ or the build recipe below changes, so caches
# built by an older recipe are not reused.
PATCH_REV=r2

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${IRSTEPS_CACHE_DIR:-/var/cache/irsteps}"
OUT_DIR="$CACHE_DIR/kubernetes-$K8S_VERSION-$PATCH_REV"
BIN_DIR="$OUT_DIR/bin"
WORK="${IRSTEPS_BUILD_DIR:-$CACHE_DIR/build/kubernetes-$DEB_SRC_VERSION}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler)

_log_prefix=build-control-plane
# shellcheck source=lib.sh
source "$HERE/lib.sh"

FORCE=0
case "${1:-}" in
  --force) FORCE=1 ;;
  "") ;;
  -h|--help) sed -n '2,21p' "$0" >&2; exit 0 ;;
  *) die "unknown argument: $1 (usage: $0 [--force])" ;;
esac

cache_ok() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN_DIR/$b" ]] || return 1; done
}

# Fast path: no lock, no apt, nothing. This is what every test run hits.
if [[ $FORCE == 0 ]] && cache_ok; then
  echo "$BIN_DIR"
  exit 0
fi

mkdir -p "$CACHE_DIR"
# Two test jobs may start at once on a fresh machine; only one should build.
exec 9>"$CACHE_DIR/.build-control-plane.lock"
flock 9
if [[ $FORCE == 0 ]] && cache_ok; then   # the other job finished it meanwhile
  echo "$BIN_DIR"
  exit 0
fi

# ---- tools ------------------------------------------------------------------
# Installed here (not assumed) because CI starts from a fresh machine.
# dpkg-dev: dpkg-source unpacks the .dsc; patch: our vendor fix; golang-go: Go 1.19.
ensure_pkgs golang-go dpkg-dev patch ca-certificates debian-archive-keyring

command -v go >/dev/null || die "go not found after installing golang-go"
GO_MINOR="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
# The reflect2 patch targets the Go >= 1.18 runtime; its hiter layout was
# checked against Go 1.19 (identical through later releases we know of).
[[ "$GO_MINOR" =~ ^[0-9]+$ && "$GO_MINOR" -ge 18 ]] || die "need Go >= 1.18, have $(go env GOVERSION)"
[[ "$GO_MINOR" == 19 ]] || log "warning: built and checked with Go 1.19, using $(go env GOVERSION)"

mkdir -p "$WORK"
BUILD_LOG="$WORK/build.log"
: >"$BUILD_LOG"
log "scratch tree: $WORK (log: $BUILD_LOG)"
T0=$SECONDS

# ---- fetch source -----------------------------------------------------------
SRC="$WORK/src/kubernetes"
if [[ ! -f "$SRC/.irsteps-extracted" ]]; then
  # A private apt configuration, so the machine's own sources stay untouched
  # and only deb-src entries are fetched.
  mirror="${IRSTEPS_DEBIAN_MIRROR:-}"
  if [[ -z "$mirror" ]]; then
    mirror="$(grep -rhoE '(URIs:|deb)[[:space:]]+https?://[^[:space:]]+/debian/?([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
      | grep -oE 'https?://[^[:space:]]+' | head -n1 || true)"
    mirror="${mirror%/}"
    [[ -n "$mirror" ]] || mirror="http://deb.debian.org/debian"
  fi
  security_mirror="${mirror%/debian}/debian-security"
  APTDIR="$WORK/apt"
  rm -rf "$APTDIR"; mkdir -p "$APTDIR/lists/partial" "$APTDIR/sourceparts"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  cat >"$APTDIR/sources.list" <<EOF
deb-src [signed-by=$keyring] $mirror bookworm main
deb-src [signed-by=$keyring] $mirror bookworm-updates main
deb-src [signed-by=$keyring] $security_mirror bookworm-security main
EOF
  APT_OPTS=(-o "Dir::Etc::SourceParts=$APTDIR/sourceparts"
            -o "Dir::Etc::SourceList=$APTDIR/sources.list"
            -o "Dir::State::Lists=$APTDIR/lists")
  log "fetching Debian source package kubernetes from $mirror"
  apt-get "${APT_OPTS[@]}" update >>"$BUILD_LOG" 2>&1 || die "apt-get update (deb-src) failed, see $BUILD_LOG"
  DL="$WORK/src/dl"; rm -rf "$DL"; mkdir -p "$DL"
  if ! (cd "$DL" && apt-get "${APT_OPTS[@]}" source --download-only "kubernetes=$DEB_SRC_VERSION") >>"$BUILD_LOG" 2>&1; then
    log "exact version $DEB_SRC_VERSION not in the archive, trying the current one"
    (cd "$DL" && apt-get "${APT_OPTS[@]}" source --download-only kubernetes) >>"$BUILD_LOG" 2>&1 \
      || die "apt-get source kubernetes failed, see $BUILD_LOG"
  fi
  dsc="$(ls "$DL"/kubernetes_*.dsc | head -n1)"
  case "$(basename "$dsc")" in
    *really${K8S_VERSION}-*|kubernetes_${K8S_VERSION}-*) ;;
    *) die "archive has $(basename "$dsc"), not upstream $K8S_VERSION; update K8S_VERSION/PATCH_REV after checking it" ;;
  esac
  rm -rf "$SRC"
  # dpkg-source also applies Debian's own patches (kubectl printing fixes).
  dpkg-source --no-check -x "$dsc" "$SRC" >>"$BUILD_LOG" 2>&1 || die "dpkg-source -x failed, see $BUILD_LOG"
  rm -rf "$DL"
  basename "$dsc" >"$SRC/.irsteps-extracted"
  log "source unpacked ($((SECONDS - T0)) s)"
fi

# ---- GOPATH layout ----------------------------------------------------------
# Module mode does not work for this tree with Go 1.19 (replace directives on
# staging/ + vendor consistency checks); GOPATH mode with the tree at its
# canonical import path does.
export GOPATH="$WORK/gopath"
export GO111MODULE=off GOFLAGS='' GOPROXY=off CGO_ENABLED=0 GOCACHE="$WORK/gocache"
mkdir -p "$GOPATH/src/k8s.io"
ln -sfn "$SRC" "$GOPATH/src/k8s.io/kubernetes"
KROOT="$GOPATH/src/k8s.io/kubernetes"
# cd through the symlink: go resolves import paths from $PWD.
cd "$KROOT"

# ---- patches ----------------------------------------------------------------
# reflect2 v1.0.1 links to the pre-Go-1.18 reflect.mapiterinit signature; the
# API server then faults in mapiternext when encoding some objects (e.g. a
# NetworkPolicy). Same fix as upstream reflect2 v1.0.2.
# go-openapi-validate-go116-zero-value: the vendored kube-openapi and
# go-openapi/validate type validators treat any zero value as null when built
# with Go >= 1.16, so a custom resource with "" (or 0, false) in a field whose
# schema is not nullable is refused ("Invalid value: \"null\""); a real 1.20
# server, built with Go 1.15, accepts it. Same fix as kube-openapi#230
# (kubernetes/kubernetes#99804). Patches are applied in name order, once each
# (stamp files), so a new patch also applies to an already patched tree.
for p in "$HERE"/patches/*.patch; do
  stamp=".irsteps-patched-$(basename "$p")"
  [[ -f "$stamp" ]] && continue
  log "applying $(basename "$p")"
  patch -p1 --forward --batch <"$p" >>"$BUILD_LOG" 2>&1 || die "patch $(basename "$p") failed, see $BUILD_LOG"
  touch "$stamp"
done

# ---- generated OpenAPI definitions -----------------------------------------
# The tarball lacks pkg/generated/openapi/zz_generated.openapi.go (upstream
# generates it in Makefile.generated_files); kube-apiserver needs it. Same
# input set as the Makefile's KUBE target: every dir (staging mapped to
# vendor/) whose files carry a "// +k8s:" tag and a "+k8s:openapi-gen=" tag,
# except code-generator and sample-apiserver.
OPENAPI_OUT=pkg/generated/openapi/zz_generated.openapi.go
if [[ ! -s "$OPENAPI_OUT" ]]; then
  log "generating $OPENAPI_OUT"
  mkdir -p "$WORK/tools"
  go build -o "$WORK/tools/openapi-gen" ./vendor/k8s.io/kube-openapi/cmd/openapi-gen >>"$BUILD_LOG" 2>&1 \
    || die "building openapi-gen failed, see $BUILD_LOG"
  mapfile -t dirs < <(
    find -H . \( -not \( \( -path './_*' -o -path './.*' -o -path ./vendor \) -prune \) \) -type f -name '*.go' \
      | sed 's|^./staging/src|vendor|; s|/[^/]*$||; s|^./||' | LC_ALL=C sort -u)
  mapfile -t api_dirs < <(
    for d in "${dirs[@]}"; do
      case "$d/" in vendor/k8s.io/code-generator/*|vendor/k8s.io/sample-apiserver/*) continue ;; esac
      find "$d" -maxdepth 1 -type f -name '*.go'
    done | xargs grep --color=never -l '^// *+k8s:' | xargs grep --color=never -l '+k8s:openapi-gen=' \
      | xargs -n1 dirname | LC_ALL=C sort -u)
  [[ ${#api_dirs[@]} -gt 50 ]] || die "found only ${#api_dirs[@]} openapi input dirs, source tree looks wrong"
  inputs="$(printf 'k8s.io/kubernetes/%s,' "${api_dirs[@]}")"
  "$WORK/tools/openapi-gen" --logtostderr \
    -i "${inputs%,}" \
    -p k8s.io/kubernetes/pkg/generated/openapi \
    -O zz_generated.openapi \
    -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt \
    -r "$WORK/openapi-violations.report" >>"$BUILD_LOG" 2>&1 \
    || die "openapi-gen failed, see $BUILD_LOG"
  [[ -s "$OPENAPI_OUT" ]] || die "openapi-gen did not write $OPENAPI_OUT"
  # Upstream's Makefile fails when the API-rule report differs from its
  # checked-in list; a difference here means our input set differs from
  # upstream's. Warn only: the generated code is still usable.
  diff -q "$WORK/openapi-violations.report" api/api-rules/violation_exceptions.list >/dev/null \
    || log "warning: openapi API-rule report differs from api/api-rules/violation_exceptions.list"
  log "openapi generated from ${#api_dirs[@]} packages ($((SECONDS - T0)) s)"
fi

# ---- build ------------------------------------------------------------------
# Version variables as upstream's hack/lib/version.sh sets them, so
# /version reports v1.20.2 and clients apply the right skew rules.
ldflags="-s -w"
for pkg in k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version k8s.io/kubernetes/vendor/k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=20"
  ldflags+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=2021-01-13T00:00:00Z"
done
log "compiling ${BINARIES[*]} (about 5 min on 2 cores when nothing is cached)"
STAGE="$WORK/out"
rm -rf "$STAGE"; mkdir -p "$STAGE"
pkgs=()
for b in "${BINARIES[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
go build -o "$STAGE/" -ldflags "$ldflags" "${pkgs[@]}" >>"$BUILD_LOG" 2>&1 \
  || { tail -n 30 "$BUILD_LOG" >&2; die "go build failed, see $BUILD_LOG"; }
for b in "${BINARIES[@]}"; do [[ -x "$STAGE/$b" ]] || die "go build did not produce $b"; done

# ---- publish to the cache ---------------------------------------------------
# Swap in a complete bin dir at once so a reader never sees a partial cache.
mkdir -p "$OUT_DIR"
rm -rf "$OUT_DIR/bin.new" "$OUT_DIR/bin.old"
cp -a "$STAGE" "$OUT_DIR/bin.new"
[[ -d "$BIN_DIR" ]] && mv "$BIN_DIR" "$OUT_DIR/bin.old"
mv "$OUT_DIR/bin.new" "$BIN_DIR"
rm -rf "$OUT_DIR/bin.old"
{
  echo "kubernetes $K8S_VERSION from Debian source $(cat "$SRC/.irsteps-extracted")"
  echo "patch revision $PATCH_REV: $(cd "$HERE/patches" && ls -- *.patch | tr '\n' ' ')"
  echo "go $(go env GOVERSION), built $(date -u +%FT%TZ) in $((SECONDS - T0)) s"
} >"$OUT_DIR/BUILD-INFO"
log "done in $((SECONDS - T0)) s"

if [[ "${IRSTEPS_KEEP_BUILD:-1}" == 0 ]]; then
  cd /; rm -rf "$WORK"
fi
echo "$BIN_DIR"
