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
