#!/usr/bin/env bash
# Benchmark of verify-image, in two parts, each measured in the same run,
# interleaved; medians of RUNS.
#
# a) One keyless-signed image from a local registry (Debian's docker-registry
#    on 127.0.0.1, plain HTTP), verified by a whole verify-image process:
#    tag resolved to its digest, the cosign sha256-<hex>.sig manifest and its
#    payload fetched, certificate chain, SCT, Rekor SET and identity checked.
#    Its own output registry-requests counts the requests. Next to it, on the
#    same image: `skopeo inspect --no-tags` (ping, manifest, config: reads the
#    image, verifies nothing: what any registry client pays), and curl with
#    the four requests verify-image needs over one connection (the floor).
# b) Offline bundle verification, the same bundles for both verifiers: our
#    test Sigstore's keyless message signature and DSSE attestation, and the
#    conformance suite's happy-path v0.3 and in-toto bundles (real Sigstore
#    public-good signatures). verify-image bundle as a whole process; sigstore-
#    js (tests/sigstore-js/verify.js) as a whole process (node start-up
#    included); and both in one process, verification after verification
#    (bench/verify_bundle_loop.cpp for the library), with the trusted root
#    read and parsed every round (the same work as one process) or once and
#    held, as a service verifying many bundles holds it.
#
# Usage: bench/verify-image.sh [BUILD_DIR] [RUNS]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
RUNS="${2:-20}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
bench_workdir
PY=/usr/bin/python3  # Debian's, which has python3-cryptography
SIGN="$ROOT/tests/support/sigstore-sign.py"
VERIFY_IMAGE="$BUILD/bin/verify-image"
for tool in /usr/bin/docker-registry skopeo node npm curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install docker-registry skopeo)"; exit 1; }
done
NODE_PATH="$("$ROOT/tests/sigstore-js/install.sh")"
export NODE_PATH
IDENTITY=https://github.com/irsteps/app/.github/workflows/release.yml@refs/heads/main
ISSUER=https://token.actions.githubusercontent.com

# --- a) the registry ---------------------------------------------------------
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
HOST="127.0.0.1:$PORT"
cat > "$WORK/registry.yml" <<YAML
version: 0.1
log: {level: info}
storage: {filesystem: {rootdirectory: $WORK/registry}, delete: {enabled: true}}
http: {addr: $HOST, secret: irsteps-bench}
YAML
/usr/bin/docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
PIDS+=($!)
until grep -q "listening on $HOST" "$WORK/registry.log"; do sleep 0.1; done

# push.py image|signature ...: a FROM-scratch image (config, one layer, an OCI
# manifest tagged 1.0), or the cosign .sig manifest with one simple-signing
# layer whose annotations are the signer's JSON. Prints the manifest digest.
cat > "$WORK/push.py" <<'PY'
import hashlib, json, sys, urllib.request
host, repo = sys.argv[2], sys.argv[3]
def call(method, url, data=None, headers={}):
    request = urllib.request.Request(f"http://{host}{url}", data=data, method=method, headers=headers)
    with urllib.request.urlopen(request) as response:
        return response.headers
def blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = call("POST", f"/v2/{repo}/blobs/uploads/")["Location"]
    location = location.split(host, 1)[-1]
    call("PUT", location + ("&" if "?" in location else "?") + "digest=" + digest, data,
         {"Content-Type": "application/octet-stream"})
    return {"digest": digest, "size": len(data)}
def manifest(tag, config, layers):
    body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
                       "layers": layers}).encode()
    call("PUT", f"/v2/{repo}/manifests/{tag}", body, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    return "sha256:" + hashlib.sha256(body).hexdigest()
if sys.argv[1] == "image":
    layer = b"bench layer " * 1000
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                         "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    print(manifest("1.0", blob(config), [dict(blob(layer), mediaType="application/vnd.oci.image.layer.v1.tar")]))
else:
    digest, payload_file, annotations_file = sys.argv[4:7]
    payload = open(payload_file, "rb").read()
    annotations = json.load(open(annotations_file))
    config = blob(b'{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}')
    layer = dict(blob(payload), mediaType="application/vnd.dev.cosign.simplesigning.v1+json",
                 annotations=annotations)
    print(manifest(digest.replace(":", "-") + ".sig", config, [layer]))
PY
DIGEST=$($PY "$WORK/push.py" image "$HOST" irsteps/app)
"$SIGN" init "$WORK/sigstore"
printf '{"critical":{"identity":{"docker-reference":"%s/irsteps/app"},"image":{"docker-manifest-digest":"%s"},"type":"cosign container image signature"}}' \
  "$HOST" "$DIGEST" > "$WORK/payload.json"
"$SIGN" legacy "$WORK/sigstore" --payload "$WORK/payload.json" --identity "$IDENTITY" --issuer "$ISSUER" \
  > "$WORK/annotations.json"
$PY "$WORK/push.py" signature "$HOST" irsteps/app "$DIGEST" "$WORK/payload.json" "$WORK/annotations.json" >/dev/null
PAYLOAD_DIGEST="sha256:$(sha256sum "$WORK/payload.json" | cut -d' ' -f1)"
TRUSTED_ROOT="$WORK/sigstore/trusted_root.json"
VERIFY=("$VERIFY_IMAGE" "$HOST/irsteps/app:1.0" --allow-http-registry --trusted-root "$TRUSTED_ROOT"
  --certificate-identity "$IDENTITY" --certificate-oidc-issuer "$ISSUER")
ACCEPT='Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json'
CURL=(curl -sS -f -H "$ACCEPT" -o /dev/null "http://$HOST/v2/" -o /dev/null "http://$HOST/v2/irsteps/app/manifests/1.0"
  -o /dev/null "http://$HOST/v2/irsteps/app/manifests/${DIGEST/:/-}.sig"
  -o /dev/null "http://$HOST/v2/irsteps/app/blobs/$PAYLOAD_DIGEST")

"${VERIFY[@]}" > "$WORK/verify.json" 2> "$WORK/verify.log" || { cat "$WORK/verify.log"; exit 1; }
REQUESTS=$(jq -r '.outputs["registry-requests"]' "$WORK/verify.json")
[[ $(jq -r .outputs.verdict "$WORK/verify.json") == verified ]] || { echo "not verified"; exit 1; }
# The registry's own access log counts the same requests, independently.
before=$(grep -c '"GET \|"HEAD ' "$WORK/registry.log" || true)
"${VERIFY[@]}" >/dev/null 2>&1
after=$(grep -c '"GET \|"HEAD ' "$WORK/registry.log" || true)
SERVER_REQUESTS=$((after - before))

# What loading the system's CA store costs (the HTTP client loads it even
# for plain HTTP): the same verification with OpenSSL pointed at an empty one.
: > "$WORK/no-ca.pem"
mkdir -p "$WORK/no-ca"
declare -a T_VERIFY T_NO_CA T_SKOPEO T_CURL
for _ in $(seq 1 "$RUNS"); do
  t0=$(now_ns)
  "${VERIFY[@]}" >/dev/null 2>&1 || { echo "verify-image rejected the image"; exit 1; }
  t1=$(now_ns)
  SSL_CERT_FILE="$WORK/no-ca.pem" SSL_CERT_DIR="$WORK/no-ca" "${VERIFY[@]}" >/dev/null 2>&1 ||
    { echo "verify-image rejected the image (empty CA store)"; exit 1; }
  t2=$(now_ns)
  skopeo inspect --no-tags --tls-verify=false "docker://$HOST/irsteps/app:1.0" >/dev/null
  t3=$(now_ns)
  "${CURL[@]}"
  t4=$(now_ns)
  T_VERIFY+=($((t1 - t0))); T_NO_CA+=($((t2 - t1))); T_SKOPEO+=($((t3 - t2))); T_CURL+=($((t4 - t3)))
done

# --- b) offline bundles ------------------------------------------------------
CONFORMANCE="$ROOT/tests/data/sigstore-conformance"
BEACON=https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main
head -c 65536 /dev/urandom > "$WORK/artifact"
ARTIFACT_DIGEST="sha256:$(sha256sum "$WORK/artifact" | cut -d' ' -f1)"
echo '{"buildType":"https://irsteps.test/bench"}' > "$WORK/predicate.json"
"$SIGN" bundle "$WORK/sigstore" --digest "$ARTIFACT_DIGEST" --identity "$IDENTITY" --issuer "$ISSUER" \
  > "$WORK/message.json"
"$SIGN" bundle "$WORK/sigstore" --digest "$ARTIFACT_DIGEST" --identity "$IDENTITY" --issuer "$ISSUER" \
  --predicate-type https://slsa.dev/provenance/v1 --predicate "$WORK/predicate.json" > "$WORK/dsse.json"
# name|bundle|artifact|trusted root|identity|issuer
CASES=("generated-message|$WORK/message.json|$WORK/artifact|$TRUSTED_ROOT|$IDENTITY|$ISSUER"
       "generated-dsse|$WORK/dsse.json|$WORK/artifact|$TRUSTED_ROOT|$IDENTITY|$ISSUER")
for case in happy-path-v0.3 happy-path-intoto-in-dsse-v3; do
  CASES+=("$case|$CONFORMANCE/bundle-verify/$case/bundle.sigstore.json|$CONFORMANCE/bundle-verify/a.txt|$CONFORMANCE/production_trusted_root.json|$BEACON|$ISSUER")
done
NODE_LOOP=$((RUNS > 50 ? RUNS : 50))
: > "$WORK/bundles.tsv"
for _ in $(seq 1 "$RUNS"); do
  for entry in "${CASES[@]}"; do
    IFS='|' read -r name bundle artifact root identity issuer <<<"$entry"
    args=(--bundle "$bundle" --certificate-identity "$identity" --certificate-oidc-issuer "$issuer"
      --trusted-root "$root" "$artifact")
    t0=$(now_ns)
    "$VERIFY_IMAGE" bundle "${args[@]}" >/dev/null 2>&1 || { echo "verify-image rejected $name"; exit 1; }
    t1=$(now_ns)
    node "$ROOT/tests/sigstore-js/verify.js" "${args[@]}" >/dev/null || { echo "sigstore-js rejected $name"; exit 1; }
    t2=$(now_ns)
    "$VERIFY_IMAGE" --version >/dev/null
    t3=$(now_ns)
    printf '%s\t%s\t%s\n' "$name" verify-image $((t1 - t0)) "$name" sigstore-js-process $((t2 - t1)) \
      "$name" verify-image--version $((t3 - t2)) >> "$WORK/bundles.tsv"
  done
done
# In one process, both verifiers: every round reads the trusted root too, or
# the root is read once and held (a service verifying many bundles).
for entry in "${CASES[@]}"; do
  IFS='|' read -r name bundle artifact root identity issuer <<<"$entry"
  args=(--bundle "$bundle" --certificate-identity "$identity" --certificate-oidc-issuer "$issuer"
    --trusted-root "$root" "$artifact")
  for once in false true; do
    suffix=$([[ $once == true ]] && echo trust-once || echo in-process)
    node "$ROOT/tests/sigstore-js/verify.js" --repeat "$NODE_LOOP" --trust-once "$once" "${args[@]}" |
      jq -r --arg name "$name" --arg v "sigstore-js-$suffix" '.[] | [$name, $v, (. * 1000000 | floor)] | @tsv' \
      >> "$WORK/bundles.tsv"
    "$BUILD/bench/verify-bundle-loop" --repeat "$NODE_LOOP" --trust-once "$once" "${args[@]}" |
      jq -r --arg name "$name" --arg v "verify-image-$suffix" '.[] | [$name, $v, (. * 1000000 | floor)] | @tsv' \
      >> "$WORK/bundles.tsv"
  done
done

$PY - "${T_VERIFY[*]}" "${T_NO_CA[*]}" "${T_SKOPEO[*]}" "${T_CURL[*]}" "$REQUESTS" "$SERVER_REQUESTS" \
  "$WORK/bundles.tsv" "$NODE_LOOP" <<'PY'
import collections, statistics, sys
verify, no_ca, skopeo, curl = ([int(x) / 1e6 for x in a.split()] for a in sys.argv[1:5])
requests, server_requests, bundles, loop = sys.argv[5:9]
m = statistics.median
row = lambda name, xs: print(f"  {name:<64} {m(xs):7.1f} ms  [{min(xs):.1f}-{max(xs):.1f}]")
print(f"a) one keyless-signed image from docker-registry on 127.0.0.1: {len(verify)} runs each, interleaved; "
      "median [min-max]")
row("verify-image IMAGE:TAG (whole process, signature verified)", verify)
row("the same, OpenSSL given an empty system CA store", no_ca)
row("baseline: skopeo inspect --no-tags (reads the image, verifies nothing)", skopeo)
row("floor: curl, the same 4 requests over one connection", curl)
print(f"registry requests: {requests} by verify-image's output, {server_requests} in the registry's log "
      "(target: at most 4)")
print(f"verify-image / skopeo inspect = {m(verify) / m(skopeo):.2f}; above the curl floor: {m(verify) - m(curl):.1f} ms, "
      f"{m(no_ca) - m(curl):.1f} ms with an empty CA store (target: under 20 ms in all)")
times = collections.defaultdict(list)
for line in open(bundles):
    name, variant, ns = line.split("\t")
    times[(name, variant)].append(int(ns) / 1e6)
names = list(dict.fromkeys(name for name, _ in times))
variants = ["verify-image", "sigstore-js-process", "verify-image--version", "verify-image-in-process",
            "sigstore-js-in-process", "verify-image-trust-once", "sigstore-js-trust-once"]
print(f"b) offline bundle verification, per verification: median [min-max]; whole processes {len(verify)} runs "
      f"each, interleaved; in one process {loop} verifications in a row, the trusted root read every round "
      "(in-process) or once (trust-once); verify-image --version: process start-up alone")
for name in names:
    print(f"  {name}")
    for v in variants:
        c = times[(name, v)]
        print(f"    {v:<28}{m(c):9.2f} ms [{min(c):.2f}-{max(c):.2f}]")
for ours, theirs in (("verify-image", "sigstore-js-process"), ("verify-image-in-process", "sigstore-js-in-process"),
                     ("verify-image-trust-once", "sigstore-js-trust-once")):
    ratios = [m(times[(n, theirs)]) / m(times[(n, ours)]) for n in names]
    print(f"{theirs} / {ours}: " + ", ".join(f"{n} {r:.1f}x" for n, r in zip(names, ratios)) + " (target: 10x)")
PY
