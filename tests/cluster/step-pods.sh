# Step images as pods on a real node: helpers sourced by the
# real-node-*-test.sh scripts after lib.sh, with STATE_DIR (a cluster started
# with --node real, its env.sh sourced), BIN_DIR (the build's bin folder),
# SOURCE_DIR and WORK (the test's private folder) set.
# shellcheck shell=bash
for t in kubectl python3 buildah ctr; do command -v "$t" >/dev/null || die "$t missing"; done
python3 -c 'import yaml' 2>/dev/null || die "python3-yaml missing"
k() { kubectl --request-timeout=30s "$@"; }
VERSION="$(sed -n 's/^project(irsteps VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")"

# The buildah storage step_image used; for the test's cleanup.
step_images_clean() {
  buildah --root "$WORK/storage/root" --runroot "$WORK/storage/run" --storage-driver vfs rm -a >/dev/null 2>&1 || true
}

# step_image STEP : the step's image as containers/ builds it (assemble.sh,
# FROM scratch, buildah), imported into the node's containerd. Prints its name.
step_image() {
  local step="$1" image="localhost/irsteps/$1:$VERSION"
  local -a bh=(buildah --root "$WORK/storage/root" --runroot "$WORK/storage/run" --storage-driver vfs)
  [[ -x "$BIN_DIR/$step" ]] || die "$BIN_DIR/$step missing (build it: ninja $step)"
  "$SOURCE_DIR/containers/assemble.sh" "$BIN_DIR/$step" "$WORK/$step" >&2
  "${bh[@]}" bud --quiet --isolation chroot --pull=never --timestamp 0 --layers=false -t "$image" \
    -f "$WORK/$step/Containerfile" "$WORK/$step" >/dev/null
  "${bh[@]}" push -q "$image" "oci-archive:$WORK/$step.tar:$image" >&2
  ctr --address "$IRSTEPS_CONTAINERD_SOCK" -n k8s.io images import --snapshotter native "$WORK/$step.tar" >&2
  # (The list captured first: "ctr ... | grep -q" fails under pipefail.)
  local images
  images="$(ctr --address "$IRSTEPS_CONTAINERD_SOCK" -n k8s.io images ls -q)"
  grep -qx "$image" <<<"$images" || die "$image not in containerd after the import"
  echo "$image"
}

# step_pod STEP IMAGE NAMESPACE SERVICE_ACCOUNT NAME=VALUE... : the pod Argo
# would make of the template's container (workflow/controller/workflowpod.go:
# the container is "main", the template's volumes and activeDeadlineSeconds),
# with the given input parameters and the rest at their defaults.
# STEP_POD_HOSTPATH=HOST_DIR:MOUNT adds a read-only hostPath volume;
# STEP_POD_NO_CACHE=1 drops the cache volume and the IRSTEPS_CACHE_DIR and
# HOME the template sets, as a template without them would run.
step_pod() {
  python3 - "$SOURCE_DIR/workflows/argo/steps.yaml" "$@" <<'EOF'
import json, re, sys
import yaml
steps, step, image, namespace, account = sys.argv[1:6]
given = dict(a.split("=", 1) for a in sys.argv[6:])
doc = yaml.safe_load(open(steps))
template = next(t for t in doc["spec"]["templates"] if t["name"] == step)
params = {p["name"]: p.get("default", "") for p in template["inputs"]["parameters"]}
unknown = set(given) - set(params)
if unknown:
    sys.exit(f"{step} has no input parameter {sorted(unknown)}")
params.update(given)
missing = [n for n, v in params.items() if v is None]
if missing:
    sys.exit(f"{step}: required parameters not given: {missing}")
fill = lambda s: re.sub(r"\{\{inputs\.parameters\.([A-Za-z0-9_-]+)\}\}", lambda m: params[m.group(1)], s)
c = template["container"]
port = __import__("os").environ["IRSTEPS_APISERVER_PORT"]
container = {
    "name": "main",
    "image": image,
    "imagePullPolicy": "Never",
    "command": c["command"],
    "args": [fill(a) for a in c.get("args", [])],
    "env": c.get("env", []) + [
        {"name": "KUBERNETES_SERVICE_HOST", "value": "127.0.0.1"},
        {"name": "KUBERNETES_SERVICE_PORT", "value": port},
    ],
    "securityContext": c["securityContext"],
    "resources": c["resources"],
    "volumeMounts": c.get("volumeMounts", []),
}
pod = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": f"{step}-step", "namespace": namespace},
    "spec": {
        "serviceAccountName": account,
        "hostNetwork": True,
        "restartPolicy": "Never",
        "activeDeadlineSeconds": template["activeDeadlineSeconds"],
        "volumes": template.get("volumes", []),
        "containers": [container],
    },
}
import os
if os.environ.get("STEP_POD_NO_CACHE") == "1":
    container["env"] = [e for e in container["env"] if e["name"] not in ("IRSTEPS_CACHE_DIR", "HOME")]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "cache"]
    pod["spec"]["volumes"] = [v for v in pod["spec"]["volumes"] if v["name"] != "cache"]
    pod["metadata"]["name"] += "-no-cache"
if os.environ.get("STEP_POD_HOSTPATH"):
    host, mount = os.environ["STEP_POD_HOSTPATH"].split(":")
    pod["spec"]["volumes"].append({"name": "host", "hostPath": {"path": host, "type": "Directory"}})
    container["volumeMounts"].append({"name": "host", "mountPath": mount, "readOnly": True})
print(json.dumps(pod))
EOF
}

# wait_phase NS POD : until the pod Succeeded or Failed; prints the phase.
wait_phase() {
  local phase
  for _ in $(seq 1 240); do
    phase="$(k -n "$1" get pod "$2" -o jsonpath='{.status.phase}')"
    [[ "$phase" == Succeeded || "$phase" == Failed ]] && { echo "$phase"; return 0; }
    sleep 0.5
  done
  echo "still $phase after 120 s"; k -n "$1" describe pod "$2" | tail -n 20
  return 1
}

# The outputs a finished pod left in its /tmp emptyDir, where Argo's wait
# container would read them: on this node, in the kubelet's pod folder.
pod_output() {  # NS POD NAME
  local uid
  uid="$(k -n "$1" get pod "$2" -o jsonpath='{.metadata.uid}')"
  cat "$STATE_DIR/node/kubelet/root/pods/$uid/volumes/kubernetes.io~empty-dir/tmp/outputs/$3"
}

# ---- for real-node-more-steps-test.sh ---------------------------------------

# pod_renamed NAME : step_pod's JSON on stdin with another name, for a second
# pod of the same step.
pod_renamed() { jq -c --arg name "$1" '.metadata.name = $name'; }

# pod_exit_code NS POD : the exit code of a finished pod's container "main".
pod_exit_code() {
  k -n "$1" get pod "$2" -o jsonpath='{.status.containerStatuses[?(@.name=="main")].state.terminated.exitCode}'
}

# start_registry DIR [USER:PASSWORD] : Debian's docker-registry (the CNCF
# distribution registry) on 127.0.0.1 over plain HTTP, its storage in DIR,
# as the service tests start it (tests/service/registry_fixture.hpp); with
# USER:PASSWORD, htpasswd Basic authentication (bcrypt). Prints
# 127.0.0.1:PORT once it accepts; its pid is in DIR/pid.
start_registry() {
  local dir="$1" login="${2:-}" port auth=""
  [[ -x /usr/bin/docker-registry ]] || die "docker-registry missing (scripts/install-deps.sh)"
  mkdir -p "$dir/data"
  if [[ -n "$login" ]]; then
    command -v htpasswd >/dev/null || die "htpasswd missing (apache2-utils)"
    htpasswd -Bbn "${login%%:*}" "${login#*:}" >"$dir/htpasswd" 2>/dev/null
    auth="auth: {htpasswd: {realm: irsteps-test, path: $dir/htpasswd}}"
  fi
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  cat >"$dir/config.yml" <<EOT
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
$auth
EOT
  /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do
    port_in_use "$port" && { echo "127.0.0.1:$port"; return 0; }
    sleep 0.1
  done
  cat "$dir/registry.log" >&2
  die "docker-registry did not listen on 127.0.0.1:$port"
}

# oci_push HOST REPO TAG : pushes a small FROM-scratch image (a config and
# one layer saying REPO:TAG) over plain HTTP; prints its manifest digest.
# oci_sign HOST REPO DIGEST SIGSTORE_DIR IDENTITY ISSUER [ONTO_DIGEST] : a
# keyless cosign signature of DIGEST as `cosign sign` stores one without the
# referrers API (the simple-signing payload as the one layer of a manifest
# tagged sha256-<hex>.sig, the annotations of tests/support/sigstore-sign.py
# on it), from the test Sigstore in SIGSTORE_DIR; with ONTO_DIGEST the same
# signature is stored as that image's instead (a signature moved onto
# another image). OCI_LOGIN=USER:PASSWORD: Basic authentication.
oci_push() { _oci push "$@"; }
oci_sign() { _oci sign "$@"; }
_oci() {
  python3 - "$SOURCE_DIR/tests/support/sigstore-sign.py" "$@" <<'EOT'
import base64, hashlib, json, os, subprocess, sys, tempfile, urllib.request
signer, action, host, repo = sys.argv[1:5]
base = f"http://{host}/v2/{repo}"

def request(method, url, data=None, headers=None):
    headers = dict(headers or {})
    if os.environ.get("OCI_LOGIN"):
        headers["Authorization"] = "Basic " + base64.b64encode(os.environ["OCI_LOGIN"].encode()).decode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as response:
        return response

def push_blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = request("POST", base + "/blobs/uploads/").headers["Location"]
    if location.startswith("/"):
        location = f"http://{host}{location}"
    request("PUT", location + ("&" if "?" in location else "?") + "digest=" + digest, data,
            {"Content-Type": "application/octet-stream"})
    return {"digest": digest, "size": len(data)}

def push_manifest(tag, manifest):
    body = json.dumps(manifest).encode()
    request("PUT", f"{base}/manifests/{tag}", body,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    return "sha256:" + hashlib.sha256(body).hexdigest()

if action == "push":
    tag = sys.argv[5]
    layer = f"layer of {repo}:{tag}\n".encode()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **push_blob(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **push_blob(layer)}]}
    print(push_manifest(tag, manifest))
else:
    digest, store, identity, issuer = sys.argv[5:9]
    onto = sys.argv[9] if len(sys.argv) > 9 else digest
    payload = json.dumps({"critical": {"identity": {"docker-reference": f"{host}/{repo}"},
                                       "image": {"docker-manifest-digest": digest},
                                       "type": "cosign container image signature"}}).encode()
    with tempfile.NamedTemporaryFile() as f:
        f.write(payload)
        f.flush()
        annotations = json.loads(subprocess.run(
            [sys.executable, signer, "legacy", store, "--payload", f.name, "--identity", identity,
             "--issuer", issuer], check=True, capture_output=True).stdout)
    config = json.dumps({"architecture": "", "os": "", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **push_blob(config)},
                "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                            **push_blob(payload), "annotations": annotations}]}
    push_manifest("sha256-" + onto.split(":", 1)[1] + ".sig", manifest)
EOT
}

# namespace_ready NAME : the namespace exists and is not terminating (an
# earlier test's cleanup deletes it without waiting).
namespace_ready() {
  local phase
  for _ in $(seq 1 240); do
    phase="$(k get namespace "$1" -o jsonpath='{.status.phase}' 2>/dev/null || true)"
    [[ "$phase" == Active ]] && return 0
    [[ -z "$phase" ]] && { k create namespace "$1" >/dev/null 2>&1 || true; }
    sleep 0.25
  done
  die "namespace $1 is still '$phase' after 60 s"
}

# account_ready NS NAME : the ServiceAccount has its token Secret, without
# which 1.20's ServiceAccount admission refuses pods that run as it.
account_ready() {
  for _ in $(seq 1 120); do
    k -n "$1" get serviceaccount "$2" -o jsonpath='{.secrets[0].name}' 2>/dev/null | grep -q . && return 0
    sleep 0.25
  done
  die "ServiceAccount $1/$2 has no token Secret after 30 s"
}
