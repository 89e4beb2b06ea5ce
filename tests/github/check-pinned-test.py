#!/usr/bin/env python3
"""check-pinned.py on made-up trees: a pinned one passes; each kind of
unpinned reference fails with its own line, and a comment line is ignored."""
import pathlib
import subprocess
import sys
import tempfile

CHECK = pathlib.Path(__file__).resolve().parent / "check-pinned.py"
SHA = "11d5960a326750d5838078e36cf38b85af677262"
DIGEST = "sha256:" + "ab" * 32


def run(workflow, dockerfile="FROM ghcr.io/irsteps/notify:0.1.0\n", name="ci.yml", action=None):
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        (root / ".github" / "workflows").mkdir(parents=True)
        (root / "workflows" / "github" / "notify").mkdir(parents=True)
        (root / "CMakeLists.txt").write_text("project(irsteps VERSION 0.1.0 LANGUAGES CXX)\n")
        (root / ".github" / "workflows" / name).write_text(workflow)
        (root / "workflows" / "github" / "notify" / "Dockerfile").write_text(dockerfile)
        if action is not None:
            (root / "workflows" / "github" / "notify" / "action.yml").write_text(action)
        done = subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True, text=True)
        return done.returncode, done.stdout


failures = []


def expect(name, outcome, status, needle):
    code, out = outcome
    if code != status or needle not in out:
        failures.append(f"{name}: exit {code}, wanted {status} with {needle!r}; output:\n{out}")


good = (f"steps:\n  - uses: actions/checkout@{SHA} # v4.4.0\n"
        f"  # uses: actions/cache@v4 (a comment)\n"
        f"  - uses: docker://aquasec/trivy:0.58.1@{DIGEST}\n"
        "  - uses: ./workflows/github/notify\n"
        "  - uses: irsteps/irsteps/workflows/github/notify@v0.1.0\n")
expect("pinned", run(good), 0, "listed, not pinned by digest here (project version 0.1.0)")
expect("flow style", run("steps:\n  - {name: x, uses: actions/checkout@v4}\n"), 1,
       "actions/checkout@v4 is not pinned by a full commit SHA")
expect(".yaml", run("steps:\n  - uses: actions/cache@v4\n", name="x.yaml"), 1, "actions/cache@v4 is not pinned")
expect("action runs.image", run(good, action="runs:\n  using: docker\n  image: docker://alpine:3.20\n"), 1,
       "alpine:3.20 is not pinned by digest")
expect("job container listed", run("jobs:\n  a:\n    container: {image: debian:12}\n"), 0,
       "debian:12 (a job's container or service image, by tag)")
expect("tag", run("steps:\n  - uses: actions/checkout@v4\n"), 1,
       "actions/checkout@v4 is not pinned by a full commit SHA")
expect("short sha", run("steps:\n  - uses: actions/checkout@11d5960 # v4.4.0\n"), 1, "not pinned by a full commit SHA")
expect("no version comment", run(f"steps:\n  - uses: actions/checkout@{SHA}\n"), 1, "has no '# vX.Y.Z' comment")
expect("docker tag", run("steps:\n  - uses: docker://aquasec/trivy:0.58.1\n"), 1,
       "aquasec/trivy:0.58.1 is not pinned by digest")
expect("own version", run("steps:\n  - uses: irsteps/irsteps/workflows/github/notify@main\n"), 1,
       "our own action names another version than v0.1.0")
expect("dockerfile", run(good, "FROM debian:12\n"), 1, "debian:12 is not pinned by digest")
expect("own image version", run(good, "FROM ghcr.io/irsteps/notify:latest\n"), 1,
       "our own image names another version than 0.1.0")

for failure in failures:
    print(failure)
print(f"check-pinned self-test: {12 - len(failures)} of 12 cases as expected")
sys.exit(1 if failures else 0)
