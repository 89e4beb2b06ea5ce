#!/usr/bin/env bash
# Starts a real single-machine Kubernetes 1.20 control plane on 127.0.0.1:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and, when its
# binary exists, the test node agent; or, with --node real, a real node
# (containerd, runc and a kubelet, see real-node.sh) instead of the node agent.
# Everything lives in STATE_DIR; the last stdout line is
# "KUBECONFIG=STATE_DIR/kubeconfig".
#
# Usage: start.sh [--audit] [--node agent|real] [STATE_DIR]
#   STATE_DIR defaults to $IRSTEPS_CLUSTER_DIR or /tmp/irsteps-cluster. A
#   previous (stopped) cluster in it is wiped; a running one is an error.
#
# Environment (all optional):
#   IRSTEPS_CLUSTER_AUDIT=1     same as --audit: audit log in STATE_DIR/audit.log
#   IRSTEPS_NODE_AGENT=PATH     node agent binary (default STATE_DIR/../node-agent)
#   IRSTEPS_NO_NODE_AGENT=1     do not start the node agent even if present
#   IRSTEPS_K8S_BIN_DIR=DIR     use these control-plane binaries, skip the build
#   IRSTEPS_{ETCD,ETCD_PEER,APISERVER,CONTROLLER_MANAGER,SCHEDULER,NODE_AGENT}_PORT
#                               fixed ports instead of free ones picked at random
#   IRSTEPS_START_TIMEOUT=120   seconds to wait for each readiness step
#   IRSTEPS_KUBELET_BIN=PATH    with --node real: this kubelet, skip its build
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_log_prefix=start
# shellcheck source=lib.sh
source "$HERE/lib.sh"

AUDIT="${IRSTEPS_CLUSTER_AUDIT:-0}"
ARG_DIR=""
NODE_KIND=agent
while [[ $# -gt 0 ]]; do
  case "$1" in
    --audit) AUDIT=1 ;;
    --node)
      [[ $# -ge 2 ]] || die "--node needs a value: agent or real"
      NODE_KIND="$2"; shift
      [[ "$NODE_KIND" == agent || "$NODE_KIND" == real ]] || die "--node must be agent or real, not '$NODE_KIND'"
      ;;
    -h|--help) sed -n '2,22p' "$0" >&2; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) [[ -z "$ARG_DIR" ]] || die "only one STATE_DIR allowed"; ARG_DIR="$1" ;;
  esac
  shift
done
TIMEOUT="${IRSTEPS_START_TIMEOUT:-120}"
T_START=$SECONDS

# ---- tools ------------------------------------------------------------------
# Installed here because CI starts from a fresh machine; a no-op otherwise.
ensure_pkgs etcd-server openssl curl ca-certificates
ETCD_BIN="$(command -v etcd || true)"
[[ -x "$ETCD_BIN" ]] || die "etcd not found after installing etcd-server"

if [[ -n "${IRSTEPS_K8S_BIN_DIR:-}" ]]; then
  K8S_BIN="$IRSTEPS_K8S_BIN_DIR"
else
  # A no-op (milliseconds) once the binaries are cached.
  K8S_BIN="$("$HERE/build-control-plane.sh")"
fi
for b in kube-apiserver kube-controller-manager kube-scheduler; do
  [[ -x "$K8S_BIN/$b" ]] || die "$K8S_BIN/$b missing"
done
if [[ "$NODE_KIND" == real ]]; then
  [[ $(id -u) == 0 ]] || die "--node real needs root (containerd, runc, mounts, a bridge, iptables)"
  ensure_pkgs containerd runc containernetworking-plugins busybox-static buildah gcc libc6-dev iptables iproute2 python3
  for t in containerd ctr runc buildah gcc iptables ip; do
    command -v "$t" >/dev/null || die "$t not found after installing the real node's packages"
  done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] \
    || die "CNI plugins bridge, host-local, loopback missing in /usr/lib/cni"
  [[ -x /bin/busybox ]] || die "/bin/busybox missing after installing busybox-static"
  if [[ -n "${IRSTEPS_KUBELET_BIN:-}" ]]; then
    KUBELET_BIN="$IRSTEPS_KUBELET_BIN"
  else
    KUBELET_BIN="$("$HERE/build-kubelet.sh")/kubelet"
  fi
  [[ -x "$KUBELET_BIN" ]] || die "kubelet $KUBELET_BIN missing"
  # shellcheck source=real-node.sh
  source "$HERE/real-node.sh"
fi

# ---- state dir --------------------------------------------------------------
STATE_DIR="$(resolve_state_dir "$ARG_DIR")"
for c in "${COMPONENTS[@]}"; do
  if pid="$(component_pid "$c")"; then
    die "$c is already running from $STATE_DIR (pid $pid); run stop.sh $STATE_DIR first"
  fi
done
# Only wipe a dir we created (marker) or an empty one: STATE_DIR comes from the
# caller and a typo must not delete someone's files.
if [[ -n "$(ls -A "$STATE_DIR")" && ! -f "$STATE_DIR/.irsteps-cluster" ]]; then
  die "$STATE_DIR is not empty and was not made by start.sh; refusing to use it"
fi
# A real node of an earlier cluster may have left mounts and a bridge.
# shellcheck source=real-node.sh
[[ -d "$STATE_DIR/node" ]] && { source "$HERE/real-node.sh"; real_node_stop; }
find "$STATE_DIR" -mindepth 1 -delete
# From here on, a failure stops whatever was already started (no stray
# processes holding ports); logs stay in STATE_DIR for the post-mortem.
STARTED_OK=0
cleanup_on_failure() {
  [[ $STARTED_OK == 1 ]] && return 0
  log "start failed: stopping what was started (logs in $STATE_DIR/logs)"
  local i
  [[ "$NODE_KIND" == real ]] && { real_node_stop || true; }
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    stop_component "${COMPONENTS[$i]}" || true
  done
}
trap cleanup_on_failure EXIT
touch "$STATE_DIR/.irsteps-cluster"
mkdir -p "$STATE_DIR"/{pki,etcd,logs,run,kcm-certs,scheduler-certs}
chmod 700 "$STATE_DIR/pki" "$STATE_DIR/etcd"
PKI="$STATE_DIR/pki"

NODE_AGENT_BIN=""
if [[ "$NODE_KIND" == agent && "${IRSTEPS_NO_NODE_AGENT:-0}" != 1 ]]; then
  cand="${IRSTEPS_NODE_AGENT:-$(dirname "$STATE_DIR")/node-agent}"
  [[ -x "$cand" ]] && NODE_AGENT_BIN="$(cd "$(dirname "$cand")" && pwd)/$(basename "$cand")"
fi
NODE_NAME=irsteps-node-0
# The kubelet refuses a loopback --node-ip; with the host name 127.0.0.1 the
# Node's InternalIP is 127.0.0.1, where the API server reaches it.
[[ "$NODE_KIND" == real ]] && NODE_NAME=127.0.0.1

# ---- ports ------------------------------------------------------------------
# Random free ports so several clusters (and other services) can coexist on
# one machine; env vars pin them when a test needs fixed values. They are
# picked below the kernel's ephemeral range (ip_local_port_range, 32768-60999
# by default): a port from inside it can be handed to another process's
# outgoing connection or bind(0) between our check and etcd's bind.
PICKED=" "
EPHEMERAL_LOW=32768
read -r EPHEMERAL_LOW _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
PORT_LOW=10000
((EPHEMERAL_LOW - PORT_LOW >= 2000)) || PORT_LOW=$((EPHEMERAL_LOW - 2000))
((PORT_LOW >= 1024)) || die "ip_local_port_range starts at $EPHEMERAL_LOW: no room below it for fixed ports"
pick_port() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((PORT_LOW + RANDOM % (EPHEMERAL_LOW - PORT_LOW)))
    [[ "$PICKED" == *" $p "* ]] && continue
    port_in_use "$p" && continue
    PICKED+="$p "; echo "$p"; return 0
  done
  die "no free port found"
}
port_or_pick() {  # $1 = value from env (may be empty)
  if [[ -n "$1" ]]; then
    port_in_use "$1" && die "port $1 (from environment) is already in use"
    PICKED+="$1 "; echo "$1"
  else
    pick_port
  fi
}
# Assigned one at a time (not in $(...) lists) so PICKED sees every choice.
ETCD_PORT="$(port_or_pick "${IRSTEPS_ETCD_PORT:-}")"; PICKED+="$ETCD_PORT "
ETCD_PEER_PORT="$(port_or_pick "${IRSTEPS_ETCD_PEER_PORT:-}")"; PICKED+="$ETCD_PEER_PORT "
APISERVER_PORT="$(port_or_pick "${IRSTEPS_APISERVER_PORT:-}")"; PICKED+="$APISERVER_PORT "
CONTROLLER_MANAGER_PORT="$(port_or_pick "${IRSTEPS_CONTROLLER_MANAGER_PORT:-}")"; PICKED+="$CONTROLLER_MANAGER_PORT "
SCHEDULER_PORT="$(port_or_pick "${IRSTEPS_SCHEDULER_PORT:-}")"; PICKED+="$SCHEDULER_PORT "
NODE_AGENT_PORT="$(port_or_pick "${IRSTEPS_NODE_AGENT_PORT:-}")"; PICKED+="$NODE_AGENT_PORT "
cat >"$STATE_DIR/ports.env" <<EOF
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
APISERVER_PORT=$APISERVER_PORT
CONTROLLER_MANAGER_PORT=$CONTROLLER_MANAGER_PORT
SCHEDULER_PORT=$SCHEDULER_PORT
NODE_AGENT_PORT=$NODE_AGENT_PORT
EOF
if [[ "$NODE_KIND" == real ]]; then
  KUBELET_PORT="$(port_or_pick "${IRSTEPS_KUBELET_PORT:-}")"; PICKED+="$KUBELET_PORT "
  KUBELET_HEALTHZ_PORT="$(pick_port)"; PICKED+="$KUBELET_HEALTHZ_PORT "
  printf 'KUBELET_PORT=%s\nKUBELET_HEALTHZ_PORT=%s\n' "$KUBELET_PORT" "$KUBELET_HEALTHZ_PORT" >>"$STATE_DIR/ports.env"
fi

# ---- certificates -----------------------------------------------------------
# One CA signs everything: API serving cert, client certs (admin, apiserver ->
# node agent, controller-manager, scheduler) and the node agent's serving
# cert. The apiserver is given it as --kubelet-certificate-authority, so its
# connections to the node agent are verified, and the node agent is given it
# as --client-ca-file, so it can verify the apiserver.
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1   # first IP of SERVICE_CIDR: the "kubernetes" Service
T_PKI=$SECONDS
openssl_quiet() { openssl "$@" 2>>"$STATE_DIR/logs/openssl.log"; }
openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=irsteps-test-cluster-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# issue NAME SUBJECT EXT_KEY_USAGE [SAN] : key + cert signed by the CA.
issue() {
  local name="$1" subj="$2" eku="$3" san="${4:-}" ext="$PKI/$1.ext"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } >"$ext"
  openssl_quiet req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subj"
  openssl_quiet x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -sha256 -extfile "$ext" -out "$PKI/$name.crt"
  rm -f "$PKI/$name.csr" "$ext"
}
issue apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:$SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
# Same identity kubeadm gives the apiserver's client cert towards kubelets.
issue apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
# Cert-based admin, for clients that prefer mTLS over the token.
issue admin "/O=system:masters/CN=irsteps-admin" clientAuth
issue controller-manager "/CN=system:kube-controller-manager" clientAuth
issue scheduler "/CN=system:kube-scheduler" clientAuth
# Node agent serving cert (the "kubelet" the apiserver talks to for logs/exec).
issue node-agent "/O=system:nodes/CN=system:node:$NODE_NAME" serverAuth,clientAuth \
  "IP:127.0.0.1,DNS:localhost,DNS:$NODE_NAME"
# The kubelet's own identity towards the API server, as kubelets have it
# (the Node authorizer and NodeRestriction then apply to it).
[[ "$NODE_KIND" == real ]] && issue kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
# Service-account token signing key pair.
openssl_quiet genrsa -out "$PKI/sa.key" 2048
openssl_quiet rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
# Static admin bearer token (group system:masters).
ADMIN_TOKEN="$(openssl rand -hex 32)"
printf '%s' "$ADMIN_TOKEN" >"$PKI/admin.token"
printf '%s,irsteps-admin,irsteps-admin,"system:masters"\n' "$ADMIN_TOKEN" >"$PKI/tokens.csv"
chmod 600 "$PKI"/*.key "$PKI/admin.token" "$PKI/tokens.csv"
log "certificates ready ($((SECONDS - T_PKI)) s)"

# ---- kubeconfigs ------------------------------------------------------------
API_URL="https://127.0.0.1:$APISERVER_PORT"
b64() { base64 -w0 <"$1"; }
# write_kubeconfig FILE USER_YAML_LINES
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: irsteps
  cluster:
    server: $API_URL
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: $2
  user:
$3
contexts:
- name: irsteps
  context:
    cluster: irsteps
    user: $2
current-context: irsteps
EOF
  chmod 600 "$1"
}
cert_user() {
  printf '    client-certificate-data: %s\n    client-key-data: %s' "$(b64 "$PKI/$1.crt")" "$(b64 "$PKI/$1.key")"
}
write_kubeconfig "$STATE_DIR/kubeconfig" irsteps-admin "    token: $ADMIN_TOKEN"
write_kubeconfig "$STATE_DIR/admin-cert.kubeconfig" irsteps-admin "$(cert_user admin)"
write_kubeconfig "$STATE_DIR/controller-manager.kubeconfig" system:kube-controller-manager "$(cert_user controller-manager)"
write_kubeconfig "$STATE_DIR/scheduler.kubeconfig" system:kube-scheduler "$(cert_user scheduler)"
# The node agent gets its own file (admin token) so tests can swap its
# identity without touching the admin kubeconfig.
write_kubeconfig "$STATE_DIR/node-agent.kubeconfig" irsteps-admin "    token: $ADMIN_TOKEN"
[[ "$NODE_KIND" == real ]] && write_kubeconfig "$STATE_DIR/kubelet.kubeconfig" "system:node:$NODE_NAME" "$(cert_user kubelet)"

# ---- audit policy -----------------------------------------------------------
AUDIT_FLAGS=()
if [[ "$AUDIT" == 1 ]]; then
  # Secrets/configmaps/tokens: Metadata only, never bodies. Mutations: request
  # bodies. Reads: metadata. Noise (probes, discovery, events, leases): nothing.
  # No RequestResponse rules: response bodies (lists above all) are heavy.
  cat >"$STATE_DIR/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version", "/openapi*", "/metrics", "/api", "/api/*", "/apis", "/apis/*"]
- level: None
  resources:
  - group: ""
    resources: ["events"]
  - group: "events.k8s.io"
    resources: ["events"]
  - group: "coordination.k8s.io"
    resources: ["leases"]
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets", "configmaps", "serviceaccounts/token"]
  - group: "authentication.k8s.io"
    resources: ["tokenreviews"]
- level: Request
  verbs: ["create", "update", "patch", "delete", "deletecollection"]
- level: Metadata
EOF
  AUDIT_FLAGS=(--audit-policy-file="$STATE_DIR/audit-policy.yaml"
               --audit-log-path="$STATE_DIR/audit.log"
               --audit-log-format=json)
fi

# ---- etcd -------------------------------------------------------------------
ETCD_URL="http://127.0.0.1:$ETCD_PORT"
etcd_flags=(
  --name irsteps --data-dir "$STATE_DIR/etcd"
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL"
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-cluster "irsteps=http://127.0.0.1:$ETCD_PEER_PORT"
  --initial-cluster-state new
  --logger zap --log-outputs stderr
)
# Test data is throw-away: skip fsync where this etcd supports it (faster on
# slow CI disks).
# (Help text captured first: "etcd --help | grep -q" fails under pipefail.)
[[ "$("$ETCD_BIN" --help 2>&1)" == *--unsafe-no-fsync* ]] && etcd_flags+=(--unsafe-no-fsync)
launch etcd "$ETCD_BIN" "${etcd_flags[@]}"
WAIT_COMPONENT=etcd wait_until "$TIMEOUT" "etcd health" \
  bash -c "curl -sf --max-time 2 '$ETCD_URL/health' | grep -q '\"health\":\"true\"'"
log "etcd up on $ETCD_URL ($((SECONDS - T_START)) s)"

# ---- kube-apiserver ---------------------------------------------------------
# shellcheck disable=SC2054  # commas inside flag values are intended
apiserver_flags=(
  --advertise-address=127.0.0.1
  --bind-address=127.0.0.1
  --secure-port="$APISERVER_PORT"
  --etcd-servers="$ETCD_URL"
  --cert-dir="$STATE_DIR/pki"
  --tls-cert-file="$PKI/apiserver.crt"
  --tls-private-key-file="$PKI/apiserver.key"
  --client-ca-file="$PKI/ca.crt"
  --token-auth-file="$PKI/tokens.csv"
  --authorization-mode=Node,RBAC
  --enable-admission-plugins=NodeRestriction
  --allow-privileged=true
  --service-cluster-ip-range="$SERVICE_CIDR"
  # The "kubernetes" Service cannot point at a loopback address; without this
  # the apiserver keeps trying to write such Endpoints.
  --endpoint-reconciler-type=none
  --service-account-key-file="$PKI/sa.pub"
  --service-account-signing-key-file="$PKI/sa.key"
  --service-account-issuer=https://kubernetes.default.svc.cluster.local
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
  --kubelet-certificate-authority="$PKI/ca.crt"
  --kubelet-preferred-address-types=InternalIP,Hostname
  --profiling=false
  # Ephemeral containers (kubectl debug, snapshot --via-ephemeral) are alpha
  # in 1.20: the pods/ephemeralcontainers subresource exists only with this.
  --feature-gates=EphemeralContainers=true
  --v=1
  "${AUDIT_FLAGS[@]}"
)
launch kube-apiserver "$K8S_BIN/kube-apiserver" "${apiserver_flags[@]}"
WAIT_COMPONENT=kube-apiserver wait_until "$TIMEOUT" "kube-apiserver /readyz" apiserver_ready
log "kube-apiserver ready on $API_URL ($((SECONDS - T_START)) s)"

# ---- controller-manager and scheduler ---------------------------------------
# --port=0 turns off their insecure HTTP ports (1.20 default 10252/10251,
# fixed numbers that would clash between clusters). Leader election is off:
# one instance only, and a restart must not wait for an old lease to expire.
launch kube-controller-manager "$K8S_BIN/kube-controller-manager" \
  --kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$STATE_DIR/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$CONTROLLER_MANAGER_PORT" --port=0 \
  --cert-dir="$STATE_DIR/kcm-certs" \
  --leader-elect=false \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="$PKI/sa.key" \
  --root-ca-file="$PKI/ca.crt" \
  --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --cluster-name=irsteps \
  --profiling=false --v=1
launch kube-scheduler "$K8S_BIN/kube-scheduler" \
  --kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
  --authentication-kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
  --authorization-kubeconfig="$STATE_DIR/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --port=0 \
  --cert-dir="$STATE_DIR/scheduler-certs" \
  --leader-elect=false \
  --profiling=false --v=1

healthz_ok() { [[ "$(curl -sk --max-time 2 "https://127.0.0.1:$1/healthz")" == ok ]]; }
WAIT_COMPONENT=kube-scheduler wait_until "$TIMEOUT" "kube-scheduler /healthz" healthz_ok "$SCHEDULER_PORT"
WAIT_COMPONENT=kube-controller-manager wait_until "$TIMEOUT" "kube-controller-manager /healthz" healthz_ok "$CONTROLLER_MANAGER_PORT"
# The controller-manager's serviceaccount controller creates it: tests can
# create pods in "default" only once it exists.
WAIT_COMPONENT=kube-controller-manager wait_until "$TIMEOUT" "ServiceAccount default/default" \
  api_get /api/v1/namespaces/default/serviceaccounts/default
log "controller-manager and scheduler ready ($((SECONDS - T_START)) s)"

# ---- node agent (optional) --------------------------------------------------
if [[ -n "$NODE_AGENT_BIN" ]]; then
  mkdir -p "$STATE_DIR/node-agent"
  launch node-agent "$NODE_AGENT_BIN" \
    --kubeconfig "$STATE_DIR/node-agent.kubeconfig" \
    --node-name "$NODE_NAME" \
    --address 127.0.0.1 --port "$NODE_AGENT_PORT" \
    --tls-cert-file "$PKI/node-agent.crt" --tls-private-key-file "$PKI/node-agent.key" \
    --client-ca-file "$PKI/ca.crt" \
    --state-dir "$STATE_DIR/node-agent"
  WAIT_COMPONENT=node-agent wait_until "$TIMEOUT" "Node $NODE_NAME to register" \
    api_get "/api/v1/nodes/$NODE_NAME"
  log "node agent registered $NODE_NAME on 127.0.0.1:$NODE_AGENT_PORT ($((SECONDS - T_START)) s)"
elif [[ "$NODE_KIND" == real ]]; then
  real_node_names
  mkdir -p "$NODE_DIR"
  real_node_network
  real_node_containerd
  real_node_images
  real_node_kubelet
else
  log "no node agent binary (${IRSTEPS_NODE_AGENT:-$(dirname "$STATE_DIR")/node-agent}); pods will stay Pending"
fi

# ---- env for tests ----------------------------------------------------------
{
  echo "# Source me: connection details of the cluster in $STATE_DIR"
  echo "export KUBECONFIG=$STATE_DIR/kubeconfig"
  echo "export IRSTEPS_CLUSTER_DIR=$STATE_DIR"
  echo "export IRSTEPS_API_URL=$API_URL"
  echo "export IRSTEPS_API_CA=$PKI/ca.crt"
  echo "export IRSTEPS_API_TOKEN_FILE=$PKI/admin.token"
  echo "export IRSTEPS_NODE_NAME=$NODE_NAME"
  echo "export IRSTEPS_NODE_KIND=$NODE_KIND"
  if [[ "$NODE_KIND" == real ]]; then
    echo "export IRSTEPS_CONTAINERD_SOCK=$CONTAINERD_SOCK"
    echo "export IRSTEPS_CONTAINERD_HOSTS_DIR=$CONTAINERD_HOSTS_DIR"
    echo "export IRSTEPS_PAUSE_IMAGE=$PAUSE_IMAGE"
    echo "export IRSTEPS_BUSYBOX_IMAGE=$BUSYBOX_IMAGE"
    echo "export IRSTEPS_CNI_BRIDGE=$CNI_BRIDGE"
  fi
  sed 's/^/export IRSTEPS_/' "$STATE_DIR/ports.env"
  [[ "$AUDIT" == 1 ]] && echo "export IRSTEPS_AUDIT_LOG=$STATE_DIR/audit.log"
  true
} >"$STATE_DIR/env.sh"

STARTED_OK=1
log "cluster up in $((SECONDS - T_START)) s; stop with: $HERE/stop.sh $STATE_DIR"
echo "KUBECONFIG=$STATE_DIR/kubeconfig"
