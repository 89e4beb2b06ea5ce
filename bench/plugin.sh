#!/usr/bin/env bash
# Benchmark of the Argo executor plugin: `isolate --dry-run` for one pod
# through POST /api/v1/template.execute (median latency one request at a
# time, then requests per second and latency with 16 clients at once), next
# to what the plugin saves Argo, measured in the same run against the same
# control plane: the same step as a container started by podman (runc, the
# image of containers/), and as a bare process. Every request carries its
# own workflow uid, so each one runs the step (none is folded into another).
#
# Usage: bench/plugin.sh [BUILD_DIR] [RUNS]
# Needs: buildah, podman, runc (scripts/install-deps.sh), the control plane.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$(cd "${1:-$ROOT/build}" && pwd)"
RUNS="${2:-25}"
STATE="${IRSTEPS_BENCH_DIR:-$BUILD/bench-plugin-cluster}"

# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
bench_workdir
start_bench_cluster "$ROOT" "$STATE"
trap '"$ROOT/tests/cluster/stop.sh" "$STATE" >/dev/null 2>&1 || true; for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

k create namespace bench >/dev/null
k -n bench create deployment web --image=registry.example/web:1 >/dev/null
for _ in $(seq 1 120); do
  [[ $(k -n bench get pods --field-selector=status.phase=Running -o name | wc -l) -ge 1 ]] && break
  sleep 0.5
done
cp "$KUBECONFIG" "$WORK/kubeconfig" && chmod 0644 "$WORK/kubeconfig" && chmod 0755 "$WORK"

# The plugin, as the sidecar would run it.
head -c 32 /dev/urandom | base64 > "$WORK/token"
"$BUILD/bin/irsteps-plugin" --address 127.0.0.1 --port 0 --port-file "$WORK/port" --token-file "$WORK/token" \
  --max-concurrent 16 2>"$WORK/plugin.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [[ -s "$WORK/port" ]] && break; sleep 0.1; done

# The images, built offline from the same binaries (podman's baseline).
export CONTAINERS_CONF="$WORK/containers.conf"
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\nnetns = "none"\n\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "none"\n' >"$CONTAINERS_CONF"
"$ROOT/containers/build.sh" "$BUILD/bin" localhost/irsteps-bench >/dev/null
VERSION="$("$BUILD/bin/isolate" --version | awk '{print $NF}')"

/usr/bin/python3 - "$(cat "$WORK/port")" "$WORK/token" "$RUNS" "$BUILD/bin/isolate" "$WORK/kubeconfig" \
  "localhost/irsteps-bench/isolate:$VERSION" <<'PY'
import concurrent.futures, json, statistics, subprocess, sys, time, urllib.request, uuid
port, token_file, runs, isolate, kubeconfig, image = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
token = open(token_file).read().strip()
url = f"http://127.0.0.1:{port}/api/v1/template.execute"
args = {"incident-id": "INC-2026-11-27-001", "namespace": "bench", "selector": "app=web", "dry-run": "true"}

def execute():
    body = json.dumps({"workflow": {"metadata": {"name": "bench", "namespace": "irsteps", "uid": str(uuid.uuid4())}},
                       "template": {"name": "isolate", "plugin": {"irsteps": dict(step="isolate", **args)}}}).encode()
    request = urllib.request.Request(url, data=body, headers={"Authorization": "Bearer " + token,
                                                              "Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request) as reply:
        node = json.load(reply)["node"]
    elapsed = time.perf_counter() - t0
    if node["phase"] != "Succeeded":
        raise SystemExit("plugin: " + json.dumps(node))
    return elapsed

def ms(values):
    return f"{statistics.median(values) * 1000:7.1f} ms  [{min(values) * 1000:.1f}-{max(values) * 1000:.1f}]"

cli = ["--incident-id", args["incident-id"], "--namespace", "bench", "--selector", "app=web", "--dry-run", "--log-level", "off"]
podman = ["podman", "--storage-driver", "vfs", "run", "--rm", "--network", "host", "--read-only",
          "-v", kubeconfig + ":/kube/config:ro", "-e", "KUBECONFIG=/kube/config", image] + cli
t_plugin, t_process, t_podman = [], [], []
execute()  # the first call pays the plugin's own warm-up
for _ in range(runs):  # interleaved
    t_plugin.append(execute())
    t0 = time.perf_counter(); subprocess.run([isolate] + cli, check=True, capture_output=True)
    t_process.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); subprocess.run(podman, check=True, capture_output=True)
    t_podman.append(time.perf_counter() - t0)

total = 16 * runs
t0 = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    latencies = list(pool.map(lambda _: execute(), range(total)))
wall = time.perf_counter() - t0

print(f"isolate --dry-run for one pod, {runs} runs each, interleaved; median [min-max]")
print(f"  plugin template.execute, one at a time          {ms(t_plugin)}")
print(f"  isolate process                                  {ms(t_process)}")
print(f"  podman run of the isolate image (runc)           {ms(t_podman)}")
print(f"podman / plugin = {statistics.median(t_podman) / statistics.median(t_plugin):.1f}x; "
      f"process / plugin = {statistics.median(t_process) / statistics.median(t_plugin):.1f}x")
print(f"concurrency 16: {total} requests in {wall:.2f} s = {total / wall:.1f} requests/s; latency {ms(latencies)}")
print(f"podman one at a time = {1 / statistics.median(t_podman):.1f} starts/s")
PY
