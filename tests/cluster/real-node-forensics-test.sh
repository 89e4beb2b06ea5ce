#!/usr/bin/env bash
# Forensics on real containers (issue 17, item 3): `snapshot` against images
# as incidents find them, on a real node (start.sh --node real).
#
# - A distroless-style image (FROM scratch, one static binary, no shell):
#   every triage item and the filesystem tar are marked failed with the
#   reason, never silently empty, and the reason points at --via-ephemeral.
# - A full-userland image made of this host's own binaries (bash, GNU ps,
#   ss, netstat, GNU tar, find, ls ... with their shared libraries): every
#   triage item complete through the real tools, and the --filesystem tar of
#   its root holds its files but nothing of /proc.
# - A small image with a shell but neither ps, netstat, ss nor find: each
#   triage item falls back to /proc through the shell, or says why not.
# - --via-ephemeral IMAGE@sha256:... through Kubernetes 1.20's API form (the
#   ephemeralcontainers subresource), the debug image pulled by digest from
#   a docker-registry this test starts on 127.0.0.1 (containerd reads its
#   hosts.toml from IRSTEPS_CONTAINERD_HOSTS_DIR, real-node.sh): the
#   distroless container's files through the debug container; and a digest
#   the registry does not have fails in seconds with the kubelet's reason.
#
# snapshot runs as the binary from the host with the cluster's kubeconfig,
# not as a pod: what is tested here is what exec and ephemeral containers do
# in real containers, which is the same from either side; the step as a pod
# with the template's spec and RBAC is real-node-steps-test.sh's.
#
# Usage: real-node-forensics-test.sh STATE_DIR BIN_DIR
# Last line: "real-node-forensics: N passed, N failed"; exit status 1 if
# anything failed or a tool is missing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE_DIR="$(cd "$HERE/../.." && pwd)"
_log_prefix=real-node-forensics
# shellcheck source=lib.sh
source "$HERE/lib.sh"
real_node_test_args "$@"
[[ -n "${IRSTEPS_CONTAINERD_HOSTS_DIR:-}" ]] || die "the cluster in $STATE_DIR predates the registry configuration: restart it"
for t in gcc skopeo /usr/bin/docker-registry ldd; do command -v "$t" >/dev/null || die "$t missing"; done
[[ -x "$BIN_DIR/snapshot" ]] || die "$BIN_DIR/snapshot missing (build it: ninja snapshot)"
WORK="$(mktemp -d /tmp/real-node-forensics.XXXXXX)"
# shellcheck source=step-pods.sh
source "$HERE/step-pods.sh"

NS="forensics-$RANDOM"
REGISTRY_PID=""
REGISTRY_HOSTS=""
cleanup() {
  k delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
  [[ -n "$REGISTRY_PID" ]] && kill "$REGISTRY_PID" 2>/dev/null
  [[ -n "$REGISTRY_HOSTS" ]] && rm -rf "$REGISTRY_HOSTS"
  step_images_clean
  rm -rf "$WORK"
}
trap cleanup EXIT

bh=(buildah --root "$WORK/storage/root" --runroot "$WORK/storage/run" --storage-driver vfs)
# image NAME ROOTFS ENTRYPOINT_JSON : FROM scratch with the folder, imported
# into the node's containerd (as real-node.sh's build_image does).
image() {
  local b
  b="$("${bh[@]}" from scratch)"
  "${bh[@]}" copy "$b" "$2/" / >/dev/null
  "${bh[@]}" config --entrypoint "$3" --cmd '' "$b"
  "${bh[@]}" commit -q "$b" "$1" >/dev/null
  "${bh[@]}" rm "$b" >/dev/null
  "${bh[@]}" push -q "$1" "oci-archive:$WORK/image.tar:$1"
  ctr --address "$IRSTEPS_CONTAINERD_SOCK" -n k8s.io images import --snapshotter native "$WORK/image.tar" >/dev/null
  rm -f "$WORK/image.tar"
}

# A static program that listens on the port it is given and sleeps.
cat >"$WORK/listen.c" <<'EOF'
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
int main(int argc, char** argv) {
  signal(SIGTERM, stop);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in address = {0};
  address.sin_family = AF_INET;
  address.sin_port = htons(argc > 1 ? atoi(argv[1]) : 9090);
  if (bind(fd, (struct sockaddr*)&address, sizeof address) != 0 || listen(fd, 8) != 0) return 1;
  for (;;) pause();
}
EOF
gcc -static -O2 -o "$WORK/listen" "$WORK/listen.c" || die "gcc -static listen.c failed"

# copy_tools ROOT TOOL... : each of the host's tools with the shared
# libraries ldd names, at their own paths (Debian's /bin is /usr/bin).
copy_tools() {
  local root="$1" tool path lib
  shift
  mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/tmp" "$root/etc"
  ln -sfn usr/bin "$root/bin"
  ln -sfn usr/lib "$root/lib"
  ln -sfn usr/lib64 "$root/lib64"
  chmod 1777 "$root/tmp"
  for tool in "$@"; do
    path="$(command -v "$tool")" || die "$tool missing on this host"
    cp -L "$path" "$root/usr/bin/$tool"
    # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)": the path as
    # named, under /usr (where /lib and /lib64 lead in the image).
    for lib in $(ldd "$path" | grep -o '/[^ ]*'); do
      mkdir -p "$root/usr$(dirname "${lib#/usr}")"
      cp -L "$lib" "$root/usr${lib#/usr}"
    done
  done
  echo 'root:x:0:0:root:/root:/bin/bash' >"$root/etc/passwd"
}

# ---- images and pods --------------------------------------------------------
T0=$SECONDS
# distroless: nothing but the listener, as many production images are.
mkdir -p "$WORK/distroless"
cp "$WORK/listen" "$WORK/distroless/listen"
image irsteps.local/distroless:1 "$WORK/distroless" '["/listen", "9090"]'
# full: the host's userland; bash starts a listener and sleeps.
copy_tools "$WORK/full" bash sh ps ss netstat tar ls find cat tr grep sleep
cp "$WORK/listen" "$WORK/full/usr/bin/listen"
# A folder only root may read, as images have (/root, private keys).
mkdir -m 700 "$WORK/full/secret"
image irsteps.local/full:1 "$WORK/full" \
  '["/bin/bash", "-c", "echo full-started; echo planted >/tmp/implant.sh; listen 9091 & exec sleep 3600"]'
# shell-only: a shell, cat and tr, none of ps, netstat, ss or find.
copy_tools "$WORK/shell-only" sh cat tr
cp "$WORK/listen" "$WORK/shell-only/usr/bin/listen"
image irsteps.local/shell-only:1 "$WORK/shell-only" '["/usr/bin/listen", "9092"]'
log "images built and imported ($((SECONDS - T0)) s)"

k create namespace "$NS" >/dev/null
for _ in $(seq 1 80); do k -n "$NS" get serviceaccount default >/dev/null 2>&1 && break; sleep 0.25; done
for pod in distroless full shell-only; do
  k -n "$NS" run "$pod" --image="irsteps.local/$pod:1" --image-pull-policy=Never --restart=Never \
    --overrides='{"spec":{"terminationGracePeriodSeconds":1,"automountServiceAccountToken":false}}' >/dev/null
done
# The full image as a user without a name in it, as the template's steps run.
k -n "$NS" run full-nonroot --image=irsteps.local/full:1 --image-pull-policy=Never --restart=Never \
  --overrides='{"spec":{"terminationGracePeriodSeconds":1,"automountServiceAccountToken":false,"securityContext":{"runAsUser":65532}}}' >/dev/null
k -n "$NS" wait --for=condition=Ready pod/distroless pod/full pod/shell-only pod/full-nonroot --timeout=90s >/dev/null

# ---- the registry -------------------------------------------------------------
# Debian's docker-registry on a free port below the ephemeral range, and
# containerd told to reach it over plain http (hosts.toml).
REGISTRY_PORT=""
for p in $(shuf -i 20000-30000 -n 20); do port_in_use "$p" || { REGISTRY_PORT=$p; break; }; done
[[ -n "$REGISTRY_PORT" ]] || die "no free port for the registry"
REGISTRY="127.0.0.1:$REGISTRY_PORT"
mkdir -p "$WORK/registry/data"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
http:
  addr: $REGISTRY
EOF
/usr/bin/docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 40); do port_in_use "$REGISTRY_PORT" && break; sleep 0.25; done
port_in_use "$REGISTRY_PORT" || { cat "$WORK/registry/log"; die "docker-registry did not start on $REGISTRY"; }
REGISTRY_HOSTS="$IRSTEPS_CONTAINERD_HOSTS_DIR/$REGISTRY"
mkdir -p "$REGISTRY_HOSTS"
cat >"$REGISTRY_HOSTS/hosts.toml" <<EOF
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
# The debug image: the node's busybox, pushed by skopeo, named by digest.
skopeo copy -q --dest-tls-verify=false --digestfile "$WORK/debug.digest" \
  "oci-archive:$STATE_DIR/node/images/busybox.tar" "docker://$REGISTRY/irsteps/debug:1"
DEBUG_IMAGE="$REGISTRY/irsteps/debug@$(cat "$WORK/debug.digest")"
# A digest the registry does not have.
MISSING_IMAGE="$REGISTRY/irsteps/debug@sha256:$(printf missing | sha256sum | cut -c1-64)"
log "registry on $REGISTRY, debug image $DEBUG_IMAGE ($((SECONDS - T0)) s)"

# snapshot POD NAME ARG... : the step from the host; its evidence in
# $WORK/NAME, its outputs in $WORK/NAME.out, its log in $WORK/NAME.log.
snapshot() {
  local pod="$1" name="$2"
  shift 2
  mkdir -p "$WORK/$name.out"
  "$BIN_DIR/snapshot" --kubeconfig "$KUBECONFIG" --incident-id "INC-$(date -u +%Y-%m-%d)-$((RANDOM % 900 + 100))" \
    --namespace "$NS" --pod "$pod" --out "$WORK/$name" --outputs-dir "$WORK/$name.out" --log-format text "$@" \
    >"$WORK/$name.json" 2>"$WORK/$name.log"
}

# item NAME PATH_SUFFIX FIELD : a field (status, reason, source, sha256) of
# the manifest item of run NAME whose path ends in PATH_SUFFIX; "absent" when
# the manifest has no such item.
item() {
  python3 - "$WORK/$1" "$2" "$3" <<'EOF'
import glob, json, sys
run, suffix, field = sys.argv[1:]
manifest = json.load(open(glob.glob(run + "/manifest.json")[0]))
found = [i for i in manifest["items"] if i["path"].endswith(suffix)]
print(found[0].get(field, "") if found else "absent")
EOF
}
# The item's file in run NAME.
item_file() { find "$WORK/$1" -path "*$2" -type f | head -n 1; }
# result NAME FIELD : a field of the step's JSON result (status, outputs.failed ...).
result() {
  python3 -c 'import json, sys
value = json.load(open(sys.argv[1]))
for part in sys.argv[2].split("."): value = value[part]
print(value)' "$WORK/$1.json" "$2"
}
show_run() { echo "--- $1: result $(result "$1" status), log:"; tail -n 15 "$WORK/$1.log"; }

# ---- 1. distroless: no shell, no tools ------------------------------------------
snapshot distroless plain --filesystem || true
distroless_ok() {
  [[ "$(result plain status)" == partial ]] || { show_run plain; return 1; }
  local what status reason
  # Every triage item is in the manifest, failed, saying why and what to do.
  for what in processes.txt network.txt modified-files.txt; do
    status="$(item plain "/triage/distroless/$what" status)"
    reason="$(item plain "/triage/distroless/$what" reason)"
    [[ "$status" == failed && "$reason" == *"none of these could run"* && "$reason" == *--via-ephemeral* ]] || {
      echo "$what: $status: $reason"; return 1; }
    [[ -z "$(item_file plain "/triage/distroless/$what")" ]] || { echo "an empty $what is in the evidence"; return 1; }
  done
  # The tar: the runtime's own reason (no tar in $PATH), and the way out.
  status="$(item plain /filesystem/distroless.tar status)"
  reason="$(item plain /filesystem/distroless.tar reason)"
  [[ "$status" == failed && "$reason" == *'"tar": executable file not found'* && "$reason" == *--via-ephemeral* ]] || {
    echo "filesystem: $status: $reason"; return 1; }
  [[ "$(result plain outputs.failed)" == 4 ]] || { echo "outputs.failed: $(result plain outputs.failed)"; return 1; }
}
check "distroless: triage and tar marked failed with the runtime's reason, pointing at --via-ephemeral" distroless_ok

# ---- 2. and 5. full userland: the real tools, the real tar ----------------------
snapshot full full --filesystem || true
full_ok() {
  [[ "$(result full status)" == succeeded && "$(result full outputs.partial)" == 0 &&
     "$(result full outputs.failed)" == 0 ]] || { show_run full; return 1; }
  # Each item through the first tool asked for: GNU ps, net-tools' netstat, find.
  [[ "$(item full /triage/full/processes.txt source)" == *": ps aux" ]] || { item full /triage/full/processes.txt source; return 1; }
  [[ "$(item full /triage/full/network.txt source)" == *": netstat -tulpn" ]] || { item full /triage/full/network.txt source; return 1; }
  [[ "$(item full /triage/full/modified-files.txt source)" == *": find / -xdev -type f -mmin -60" ]] || return 1
  grep -Eq '^root +1 .* sleep 3600$' "$(item_file full /triage/full/processes.txt)" || {
    echo "no PID 1 sleep in:"; cat "$(item_file full /triage/full/processes.txt)"; return 1; }
  grep -Eq '^tcp .*0\.0\.0\.0:9091 .*LISTEN +[0-9]+/listen' "$(item_file full /triage/full/network.txt)" || {
    echo "no listen on 9091 in:"; cat "$(item_file full /triage/full/network.txt)"; return 1; }
  grep -qx /tmp/implant.sh "$(item_file full /triage/full/modified-files.txt)" || {
    echo "no /tmp/implant.sh in:"; cat "$(item_file full /triage/full/modified-files.txt)"; return 1; }
}
check "full userland: every triage item complete through ps, netstat and find" full_ok
full_tar_ok() {
  local tarball listing
  tarball="$(item_file full /filesystem/full.tar)"
  [[ -n "$tarball" && "$(item full /filesystem/full.tar status)" == complete ]] || { show_run full; return 1; }
  # GNU tar with its excludes, not the busybox fallback.
  [[ "$(item full /filesystem/full.tar source)" == *"--exclude=./proc"* ]] || { item full /filesystem/full.tar source; return 1; }
  [[ "$(sha256sum <"$tarball" | cut -c1-64)" == "$(item full /filesystem/full.tar sha256)" ]] || {
    echo "the tar's hash is not the manifest's"; return 1; }
  listing="$(tar tvf "$tarball")" || return 1
  local entry
  for entry in ./tmp/implant.sh ./usr/bin/bash ./usr/bin/listen ./etc/passwd; do
    grep -q " $entry\$" <<<"$listing" || { echo "$entry not in the tar:"; head -n 20 <<<"$listing"; return 1; }
  done
  grep -q ' ./bin -> usr/bin$' <<<"$listing" || { echo "the /bin link is not in the tar"; return 1; }
  # The container's own bytes: its bash is the host's.
  [[ "$(tar xOf "$tarball" ./usr/bin/bash | sha256sum)" == "$(sha256sum <"$(command -v bash)")" ]] || {
    echo "usr/bin/bash differs from the image's"; return 1; }
  ! grep -Eq ' \./(proc|sys)(/|$)' <<<"$listing" || { echo "/proc or /sys in the tar:"; grep -E ' \./(proc|sys)(/|$)' <<<"$listing" | head; return 1; }
}
check "full userland: --filesystem tars the container's root (GNU tar), hash in the manifest, no /proc" full_tar_ok

# ---- 3. fallbacks the real images need ---------------------------------------
snapshot shell-only shell-only || true
shell_only_ok() {
  local reason
  # No ps: the PIDs and command lines from /proc, through sh, cat and tr.
  [[ "$(item shell-only /triage/shell-only/processes.txt status)" == complete &&
     "$(item shell-only /triage/shell-only/processes.txt source)" == *"sh -c for p in /proc/"* ]] || {
    show_run shell-only; return 1; }
  grep -Eq '^1 /usr/bin/listen 9092 ?$' "$(item_file shell-only /triage/shell-only/processes.txt)" || {
    echo "PID 1 not in:"; cat "$(item_file shell-only /triage/shell-only/processes.txt)"; return 1; }
  # No netstat, no ss: /proc/net, where port 9092 is 2384 in hex.
  [[ "$(item shell-only /triage/shell-only/network.txt status)" == complete ]] || { show_run shell-only; return 1; }
  grep -Eq '^ *[0-9]+: 00000000:2384 00000000:0000 0A ' "$(item_file shell-only /triage/shell-only/network.txt)" || {
    echo "no listening 9092 in:"; cat "$(item_file shell-only /triage/shell-only/network.txt)"; return 1; }
  # No find and no way around it: failed, saying which commands were tried.
  reason="$(item shell-only /triage/shell-only/modified-files.txt reason)"
  [[ "$(item shell-only /triage/shell-only/modified-files.txt status)" == failed && "$reason" == *"find / -xdev"* ]] || {
    echo "modified-files: $reason"; return 1; }
}
check "a shell without ps, netstat, ss or find: processes and sockets from /proc, the rest failed with why" shell_only_ok
snapshot full-nonroot nonroot || true
nonroot_ok() {
  local file reason
  [[ "$(item nonroot /triage/full-nonroot/processes.txt status)" == complete &&
     "$(item nonroot /triage/full-nonroot/network.txt status)" == complete ]] || { show_run nonroot; return 1; }
  # find exists and fails (a folder it may not read): what it found is kept,
  # marked partial with find's complaint.
  reason="$(item nonroot /triage/full-nonroot/modified-files.txt reason)"
  [[ "$(item nonroot /triage/full-nonroot/modified-files.txt status)" == partial &&
     "$reason" == *"exit status 1"*"'/secret': Permission denied"* ]] || { echo "modified-files: $reason"; return 1; }
  file="$(item_file nonroot /triage/full-nonroot/modified-files.txt)"
  grep -qx /tmp/implant.sh "$file" || { echo "/tmp/implant.sh not kept:"; cat "$file"; return 1; }
}
check "full userland as uid 65532: find's Permission denied keeps what it found, marked partial" nonroot_ok

# ---- 4. --via-ephemeral on Kubernetes 1.20 ------------------------------------
snapshot distroless ephemeral --via-ephemeral "$DEBUG_IMAGE" || true
ephemeral_ok() {
  local tarball source listing status
  tarball="$(item_file ephemeral /filesystem/distroless.tar)"
  [[ -n "$tarball" && "$(item ephemeral /filesystem/distroless.tar status)" == complete ]] || {
    echo "filesystem: $(item ephemeral /filesystem/distroless.tar status): $(item ephemeral /filesystem/distroless.tar reason)"
    show_run ephemeral; return 1; }
  # Through 1.20's form (the EphemeralContainers object on the subresource).
  grep -q 'through the EphemeralContainers (Kubernetes 1.16-1.21) form of /api/v1/namespaces/[^/]*/pods/distroless/ephemeralcontainers' \
    "$WORK/ephemeral.json" || { echo "no add-ephemeral-container action on the subresource:"; grep -A3 '"verb"' "$WORK/ephemeral.json"; return 1; }
  # busybox's tar (no --exclude) from the target's root, /proc/1/root.
  source="$(item ephemeral /filesystem/distroless.tar source)"
  [[ "$source" == *"image $DEBUG_IMAGE"*"cd /proc/1/root && exec tar cf -"* ]] || { echo "source: $source"; return 1; }
  listing="$(tar tf "$tarball")" || return 1
  grep -Eqx '(\./)?listen' <<<"$listing" || { echo "listen not in the tar:"; echo "$listing"; return 1; }
  ! grep -Eq '^(\./)?(proc|sys)(/|$)' <<<"$listing" || { echo "/proc or /sys in the tar"; return 1; }
  [[ "$(tar xOf "$tarball" "$(grep -Ex '(\./)?listen' <<<"$listing")" | sha256sum)" == "$(sha256sum <"$WORK/listen")" ]] || {
    echo "the tar's listen is not the image's"; return 1; }
  # The kubelet ran the image pulled by digest from the test's registry.
  status="$(k -n "$NS" get pod distroless -o jsonpath='{.status.ephemeralContainerStatuses[0].imageID}{" "}{.status.ephemeralContainerStatuses[0].state.running.startedAt}')"
  [[ "$status" == *"irsteps/debug@$(cat "$WORK/debug.digest") "?* ]] || { echo "ephemeral container status: $status"; return 1; }
  local images
  images="$(ctr --address "$IRSTEPS_CONTAINERD_SOCK" -n k8s.io images ls -q)"
  grep -qx "$DEBUG_IMAGE" <<<"$images" || { echo "$DEBUG_IMAGE not in containerd"; return 1; }
}
check "--via-ephemeral IMAGE@sha256 (1.20's subresource, pulled from the local registry) tars a distroless root" ephemeral_ok

T_MISSING=$SECONDS
snapshot full missing --via-ephemeral "$MISSING_IMAGE" --triage=false || true
T_MISSING=$((SECONDS - T_MISSING))
missing_ok() {
  local reason
  reason="$(item missing /filesystem/full.tar reason)"
  # ErrImagePull reaches the status at the kubelet's next sync, 10-15 s
  # after the pull (ephemeral.cpp); ImagePullBackOff comes some 45 s after.
  ((T_MISSING < 30)) || { echo "took $T_MISSING s"; return 1; }
  [[ "$(item missing /filesystem/full.tar status)" == failed && "$reason" == *"cannot be pulled (waiting: ErrImagePull: "*"not found"* ]] || {
    echo "filesystem: $(item missing /filesystem/full.tar status): $reason"; show_run missing; return 1; }
  [[ "$(result missing status)" == partial ]] || { show_run missing; return 1; }
}
check "--via-ephemeral with a digest the registry lacks fails in seconds with the kubelet's ErrImagePull" missing_ok

log "wall time $SECONDS s"
echo "real-node-forensics: $PASSED passed, $FAILED failed"
[[ $FAILED == 0 ]]
