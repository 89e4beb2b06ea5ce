# shellcheck shell=bash
# A real node for the test cluster (start.sh --node real): Debian's containerd
# and runc, a kubelet built from the same Kubernetes 1.20.2 source as the
# control plane, a pause and a busybox image built here (no registry is
# reachable), and a CNI bridge from which no packet leaves the machine.
# Sourced by start.sh and stop.sh, not executed. Everything lives under
# STATE_DIR/node/ except what the kernel keeps elsewhere: the bridge, two
# iptables rules, network namespaces in /var/run/netns and the kubelet's
# /var/log/pods entries, all of which real_node_stop removes again.
#
# The recipe (flags, the oom_score_adj restriction, cgroupfs without QOS
# cgroups) is the one of issue 17, checked on a 2-core Debian 12 machine with
# cgroup v1 as root.

PAUSE_IMAGE=irsteps.local/pause:1
BUSYBOX_IMAGE=irsteps.local/busybox:1

# Bridge name and /24 are derived from STATE_DIR, so two clusters on one
# machine do not share a bridge. Interface names have at most 15 characters.
real_node_names() {
  local h
  h="$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-6)"
  NODE_DIR="$STATE_DIR/node"
  CONTAINERD_SOCK="$NODE_DIR/containerd/containerd.sock"
  CONTAINERD_HOSTS_DIR="$NODE_DIR/containerd/certs.d"
  CNI_BRIDGE="irs$h"
  # 10.123.X.0/24 with X from the hash; 10.123/16 is used by nothing here.
  CNI_SUBNET="10.123.$((16#${h:0:2})).0/24"
}

ctr_() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }

# The pause container of every pod: sleeps until SIGTERM/SIGINT and reaps
# the zombies of the pod's PID namespace, like Kubernetes' own pause.c.
write_pause_c() {
  cat >"$1" <<'EOF'
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = stop;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = reap;
  sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
}
EOF
}

# build_image NAME ROOTFS_DIR ENTRYPOINT_JSON OUT_ARCHIVE : FROM scratch with
# the folder's content, exported as an OCI archive. buildah's storage is the
# state dir's own (vfs), so the machine's image store is not touched.
build_image() {
  local name="$1" rootfs="$2" entry="$3" out="$4" b
  local -a bh=(buildah --root "$NODE_DIR/buildah/root" --runroot "$NODE_DIR/buildah/run" --storage-driver vfs)
  b="$("${bh[@]}" from scratch)"
  "${bh[@]}" copy "$b" "$rootfs/" / >/dev/null
  "${bh[@]}" config --entrypoint "$entry" --user 0:0 "$b"
  "${bh[@]}" commit -q "$b" "$name" >/dev/null
  "${bh[@]}" rm "$b" >/dev/null
  rm -f "$out"
  "${bh[@]}" push -q "$name" "oci-archive:$out:$name"
}

# import_image ARCHIVE NAME : into containerd's k8s.io namespace, where the
# CRI plugin (and so the kubelet) finds it; fails unless NAME is then listed.
import_image() {
  ctr_ images import --snapshotter native "$1" >>"$STATE_DIR/logs/images.log" 2>&1 \
    || die "importing $1 into containerd failed (log: $STATE_DIR/logs/images.log)"
  # (The list captured first: "ctr ... | grep -q" fails under pipefail.)
  local images
  images="$(ctr_ images ls -q)"
  grep -qx "$2" <<<"$images" || {
    echo "$images" >>"$STATE_DIR/logs/images.log"
    die "$2 not in containerd after importing $1 (log: $STATE_DIR/logs/images.log)"
  }
}

real_node_images() {
  local dir="$NODE_DIR/images" t=$SECONDS
  mkdir -p "$dir/pause-root" "$dir/busybox-root/bin" "$dir/busybox-root/tmp"
  write_pause_c "$dir/pause.c"
  gcc -static -O2 -o "$dir/pause-root/pause" "$dir/pause.c" || die "gcc -static pause.c failed"
  build_image "$PAUSE_IMAGE" "$dir/pause-root" '["/pause"]' "$dir/pause.tar" >>"$STATE_DIR/logs/images.log" 2>&1 \
    || die "building $PAUSE_IMAGE failed (log: $STATE_DIR/logs/images.log)"
  # busybox-static and one link per applet: a shell and the usual tools.
  cp /bin/busybox "$dir/busybox-root/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ "$applet" == busybox ]] || ln -sf busybox "$dir/busybox-root/bin/$applet"
  done
  chmod 1777 "$dir/busybox-root/tmp"
  build_image "$BUSYBOX_IMAGE" "$dir/busybox-root" '["/bin/sh"]' "$dir/busybox.tar" >>"$STATE_DIR/logs/images.log" 2>&1 \
    || die "building $BUSYBOX_IMAGE failed (log: $STATE_DIR/logs/images.log)"
  import_image "$dir/pause.tar" "$PAUSE_IMAGE"
  import_image "$dir/busybox.tar" "$BUSYBOX_IMAGE"
  log "images $PAUSE_IMAGE and $BUSYBOX_IMAGE built and imported ($((SECONDS - t)) s)"
}

real_node_network() {
  mkdir -p "$NODE_DIR/cni/net.d" "$NODE_DIR/cni/ipam"
  # isGateway false and no routes: the bridge gets no address, pods have no
  # default route, so they reach each other and nothing else. host-local
  # keeps its leases under the state dir.
  cat >"$NODE_DIR/cni/net.d/10-irsteps.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "irsteps-$CNI_BRIDGE",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE_DIR/cni/ipam",
        "ranges": [[{"subnet": "$CNI_SUBNET"}]]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
  # And should a route ever appear: nothing entering from the bridge is
  # forwarded anywhere but back into it, nor delivered to the host.
  iptables -w -C FORWARD -i "$CNI_BRIDGE" ! -o "$CNI_BRIDGE" -j DROP 2>/dev/null \
    || iptables -w -I FORWARD 1 -i "$CNI_BRIDGE" ! -o "$CNI_BRIDGE" -j DROP \
    || die "iptables: cannot add the FORWARD rule that keeps pod traffic on $CNI_BRIDGE"
  iptables -w -C INPUT -i "$CNI_BRIDGE" -j DROP 2>/dev/null \
    || iptables -w -I INPUT 1 -i "$CNI_BRIDGE" -j DROP \
    || die "iptables: cannot add the INPUT rule for $CNI_BRIDGE"
  echo "$CNI_BRIDGE" >"$NODE_DIR/cni/bridge"
}

real_node_containerd() {
  local c="$NODE_DIR/containerd"
  mkdir -p "$c/root" "$c/state" "$c/opt" "$CONTAINERD_HOSTS_DIR"
  cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$c/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The kubelet asks for oom_score_adj -998 for the pause container, which
  # this machine refuses; runc then fails every sandbox with "can't get
  # final child's PID from pipe". This clamps it to what is allowed.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  # Where images are pulled from (pulls by digest: ephemeral debug
  # containers). No registry is reachable but those the tests start on
  # 127.0.0.1: a test writes CONTAINERD_HOSTS_DIR/127.0.0.1:PORT/hosts.toml
  # (server "http://127.0.0.1:PORT") for its docker-registry, and the CRI
  # plugin reads the folder at every pull (containerd 1.6,
  # docs/hosts.md), so no restart is needed. A name without such a file is
  # tried over https at its own host, as without this setting.
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$CONTAINERD_HOSTS_DIR"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
    max_conf_num = 1
EOF
  launch containerd "$(command -v containerd)" --config "$c/config.toml"
  WAIT_COMPONENT=containerd wait_until "$TIMEOUT" "containerd on $CONTAINERD_SOCK" ctr_ version
  log "containerd up on $CONTAINERD_SOCK ($((SECONDS - T_START)) s)"
}

real_node_kubelet() {
  local k="$NODE_DIR/kubelet"
  mkdir -p "$k/root" "$k/pki" "$k/volume-plugins"
  # The API server's client certificate is signed by the cluster CA: x509
  # authentication lets it (and only holders of such certificates) in.
  cat >"$k/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $PKI/node-agent.crt
tlsPrivateKeyFile: $PKI/node-agent.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: false
  x509:
    clientCAFile: $PKI/ca.crt
authorization:
  mode: AlwaysAllow
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
makeIPTablesUtilChains: false
evictionHard:
  memory.available: "0%"
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
volumePluginDir: $k/volume-plugins
featureGates:
  EphemeralContainers: true
EOF
  # --keep-terminated-pod-volumes: a finished step pod's /tmp/outputs
  # (emptyDir) stays on the node for the tests to read, as Argo's wait
  # container reads it before the pod ends.
  launch kubelet "$KUBELET_BIN" \
    --config="$k/config.yaml" \
    --kubeconfig="$STATE_DIR/kubelet.kubeconfig" \
    --container-runtime=remote \
    --container-runtime-endpoint="unix://$CONTAINERD_SOCK" \
    --runtime-request-timeout=2m \
    --hostname-override="$NODE_NAME" \
    --root-dir="$k/root" \
    --cert-dir="$k/pki" \
    --pod-infra-container-image="$PAUSE_IMAGE" \
    --keep-terminated-pod-volumes=true \
    --v=1
  WAIT_COMPONENT=kubelet wait_until "$TIMEOUT" "Node $NODE_NAME to be Ready" node_ready "$NODE_NAME"
  log "kubelet: node $NODE_NAME Ready, serving on 127.0.0.1:$KUBELET_PORT ($((SECONDS - T_START)) s)"
}

node_ready() {
  api_get "/api/v1/nodes/$1" | python3 -c '
import json, sys
node = json.load(sys.stdin)
ready = [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
sys.exit(0 if ready and ready[0]["status"] == "True" else 1)'
}

# Stops the pods' containers, the kubelet and containerd, and removes what
# they left outside the state dir. Safe when nothing runs.
real_node_stop() {
  real_node_names
  [[ -d "$NODE_DIR" ]] || return 0
  local pid netns logdirs
  # The network namespaces and pod log folders (fixed paths outside the
  # state dir) of this node's sandboxes, read from containerd's metadata
  # before the containers, and with them their records, are deleted.
  netns="$(grep -rhoa '/var/run/netns/cni-[0-9a-f-]*' "$NODE_DIR/containerd/root" 2>/dev/null | sort -u || true)"
  logdirs="$(grep -rhoa '/var/log/pods/[A-Za-z0-9._-]*_[0-9a-f-]\{36\}' "$NODE_DIR/containerd/root" 2>/dev/null | sort -u || true)"
  if component_pid containerd >/dev/null && [[ -S "$CONTAINERD_SOCK" ]]; then
    # With the kubelet gone nothing restarts them: kill every task, then
    # remove containers so their shims exit.
    stop_component kubelet
    local t
    for t in $(ctr_ tasks ls -q 2>/dev/null); do
      ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1 || true
    done
    for t in $(ctr_ tasks ls -q 2>/dev/null); do
      ctr_ tasks delete -f "$t" >/dev/null 2>&1 || true
    done
    for t in $(ctr_ containers ls -q 2>/dev/null); do
      ctr_ containers delete "$t" >/dev/null 2>&1 || true
    done
  fi
  stop_component kubelet
  stop_component containerd
  # Shims of this containerd that outlived it (their command line names its
  # socket): by pid, one at a time.
  for pid in $(pgrep -f -- "-address $CONTAINERD_SOCK" || true); do
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Removing a network namespace also removes the pod's end of its veth.
  local ns
  for ns in $netns; do
    umount "$ns" 2>/dev/null || true
    rm -f "$ns"
  done
  # Mounts under the state dir (rootfs binds, secret tmpfs), deepest first.
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$STATE_DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
  if [[ -f "$NODE_DIR/cni/bridge" ]]; then
    local br
    br="$(cat "$NODE_DIR/cni/bridge")"
    while iptables -w -D FORWARD -i "$br" ! -o "$br" -j DROP 2>/dev/null; do :; done
    while iptables -w -D INPUT -i "$br" -j DROP 2>/dev/null; do :; done
    ip link del "$br" 2>/dev/null || true
  fi
  # The kubelet's pod log folders (a fixed path in 1.20), and the links to
  # them in /var/log/containers that now point nowhere. Those of pods whose
  # sandbox was already removed are in no record any more: the kubelet
  # removes them a minute later, so any made since this kubelet's start
  # goes too (one real node per machine at a time: see README.md).
  local dir
  for dir in $logdirs; do
    rm -rf "$dir"
  done
  if [[ -f "$NODE_DIR/kubelet/config.yaml" && -d /var/log/pods ]]; then
    find /var/log/pods -mindepth 1 -maxdepth 1 -type d -newer "$NODE_DIR/kubelet/config.yaml" \
      -exec rm -rf {} + 2>/dev/null || true
  fi
  find /var/log/containers -maxdepth 1 -xtype l -delete 2>/dev/null || true
}
