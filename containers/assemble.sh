#!/usr/bin/env bash
# Assembles the root filesystem of one irsteps image from a built binary, the
# offline route (no package download, no compiler in the image): the binary,
# stripped; its exact shared-library closure as ldd resolves it, at the same
# paths, with the dynamic loader (none for a static binary); the CA
# certificates; /etc/passwd and /etc/group with uid 65532 (nonroot) and root
# (GitHub runs Docker actions as root); an empty /tmp. No shell, no package
# manager. Every file gets the timestamp 0 so that the image digest depends
# on the content alone.
#
# Usage: containers/assemble.sh BINARY OUT_DIR
#   writes OUT_DIR/rootfs/ and OUT_DIR/Containerfile (FROM scratch).
# Environment: IRSTEPS_VERSION (default: the project version), IRSTEPS_REVISION
# (default: git HEAD), IRSTEPS_SOURCE (default: https://github.com/irsteps/irsteps).
set -euo pipefail
binary="$1" out="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
name="$(basename "$binary")"
version="${IRSTEPS_VERSION:-$(sed -n 's/^project(irsteps VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")}"
revision="${IRSTEPS_REVISION:-$(git -C "$here" rev-parse HEAD 2>/dev/null || echo unknown)}"
source_url="${IRSTEPS_SOURCE:-https://github.com/irsteps/irsteps}"

rm -rf "$out"
rootfs="$out/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
strip --strip-all -o "$rootfs/usr/local/bin/$name" "$binary"

# The closure: every library ldd resolves, and the loader. A static binary
# (no program interpreter, no needed library) has none, and ldd fails on it
# ("not a dynamic executable"), so it is asked only about the others; a
# library it cannot find stops the assembly.
headers="$(readelf --program-headers --dynamic --wide "$binary")"
if grep -q 'Requesting program interpreter' <<<"$headers" || grep -q '(NEEDED)' <<<"$headers"; then
  closure="$(ldd "$binary")"
  if grep -q 'not found' <<<"$closure"; then
    echo "assemble: $binary has unresolved libraries:" >&2
    grep 'not found' <<<"$closure" >&2
    exit 1
  fi
  awk '/=> \// {print $3} /^\t\/.*ld-linux/ {print $1}' <<<"$closure" | sort -u | while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
fi

cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' \
  >"$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
find "$rootfs" -exec touch -h -d @0 {} +

cat >"$out/Containerfile" <<EOT
FROM scratch
COPY rootfs/ /
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/$name"]
LABEL org.opencontainers.image.title="irsteps $name" \\
      org.opencontainers.image.source="$source_url" \\
      org.opencontainers.image.revision="$revision" \\
      org.opencontainers.image.version="$version" \\
      org.opencontainers.image.licenses="Apache-2.0"
EOT
