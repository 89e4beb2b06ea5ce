#!/usr/bin/env python3
"""Follows docs/adding-a-step.md on a copy of the repository, adding the
fixture step example-step, and checks what the guide promises:

- the step's own files are the ones of files/ here (copied as they are);
- the shared files edited by hand are at most three (steps/CMakeLists.txt,
  workflows/argo/steps.yaml, README.md: the snippets of shared/ here), and no
  other file changes (scripts/plugin-workflows.py leaves the plugin flavour
  as it is for a step no playbook calls, and adds its image to the images
  list of workflows/argo/kustomization.yaml);
- CMake's list then has the step: the plugin's generated table, the image
  list containers/build.sh reads and the steps' header;
- tests/check-steps.py names the missing README row before the row is added,
  and passes after.
The fixture's code is compiled by the ordinary build (target
irsteps_fixture_example_step in tests/CMakeLists.txt), not here.

Usage: follow-guide.py SOURCE_DIR [CMAKE [GENERATOR [STATIC_DEPS]]]
  (the build's own cmake, generator and IRSTEPS_STATIC_DEPS: 1 or 0)
"""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile

STEP = "example-step"
HERE = os.path.dirname(os.path.abspath(__file__))


def fail(message):
    print("FAILED: " + message)
    sys.exit(1)


def run(argv, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    return result


def tracked_files(root):
    listed = run(["git", "-C", root, "ls-files", "--cached", "--others", "--exclude-standard", "-z"])
    if listed.returncode == 0:
        files = [f for f in listed.stdout.split("\0") if f]
    else:  # not a git checkout: every file but the build trees'
        files = []
        for dirpath, dirnames, names in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != ".git" and not d.startswith("build")
                           and d != "node_modules"]
            files += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    # The test data and this fixture are not what a step touches.
    return [f for f in files if not f.startswith(("tests/data/", "tests/adding-a-step/"))
            and os.path.isfile(os.path.join(root, f))]


def main():
    source = os.path.abspath(sys.argv[1])
    cmake = sys.argv[2] if len(sys.argv) > 2 else "cmake"
    generator = sys.argv[3] if len(sys.argv) > 3 else "Ninja"
    static_deps = "ON" if (sys.argv[4] if len(sys.argv) > 4 else "1") == "1" else "OFF"
    with tempfile.TemporaryDirectory(prefix="irsteps-adding-a-step-") as tmp:
        tree = os.path.join(tmp, "src")
        before = tracked_files(source)
        for f in before:
            os.makedirs(os.path.dirname(os.path.join(tree, f)), exist_ok=True)
            shutil.copy2(os.path.join(source, f), os.path.join(tree, f))

        # 1. Copy: the step's own files.
        own = []
        files_dir = os.path.join(HERE, "files")
        for dirpath, _, names in os.walk(files_dir):
            for name in names:
                rel = os.path.relpath(os.path.join(dirpath, name), files_dir)
                os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
                shutil.copy2(os.path.join(dirpath, name), os.path.join(tree, rel))
                own.append(rel)

        # 2. The shared files, by hand: the step's line in the list, its
        # template, (README last, see 4).
        shared = lambda name: open(os.path.join(HERE, "shared", name)).read()
        with open(os.path.join(tree, "steps", "CMakeLists.txt"), "a") as f:
            f.write(shared("steps-CMakeLists.txt"))
        with open(os.path.join(tree, "workflows", "argo", "steps.yaml"), "a") as f:
            f.write(shared("steps.yaml"))
        # 3. Regenerate the plugin flavour.
        generate = run([sys.executable, os.path.join(tree, "scripts", "plugin-workflows.py")])
        if generate.returncode != 0:
            fail("scripts/plugin-workflows.py: " + generate.stderr)

        build = os.path.join(tmp, "build")
        configure = run([cmake, "-S", tree, "-B", build, "-G", generator, "-DIRSTEPS_TESTS=OFF",
                         "-DIRSTEPS_STATIC_DEPS=" + static_deps, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
        if configure.returncode != 0:
            fail("cmake configure of the tree with the step:\n" + configure.stdout + configure.stderr)
        images = open(os.path.join(build, "bin", "irsteps-steps.txt")).read().split()
        if STEP not in images:
            fail(f"bin/irsteps-steps.txt (containers/build.sh's list) lacks {STEP}: {images}")
        table = open(os.path.join(build, "plugin", "all_steps.cpp")).read()
        if "&steps::example_step::step()" not in table or '#include "example_step.hpp"' not in table:
            fail("the plugin's generated table lacks example-step:\n" + table)
        header = open(os.path.join(build, "generated", "irsteps", "step_list.hpp")).read()
        if '{"example-step", true}' not in header:
            fail("irsteps/step_list.hpp lacks example-step:\n" + header)

        check = [sys.executable, os.path.join(tree, "tests", "check-steps.py"), tree,
                 os.path.join(build, "generated", "irsteps", "steps.json"), os.path.join(build, "bin", "irsteps-steps.txt")]
        # 4. Without its README row the check names the step and the row.
        missing = run(check)
        if missing.returncode == 0 or f"step {STEP}: its row" not in missing.stdout:
            fail("check-steps.py did not name the missing README row:\n" + missing.stdout + missing.stderr)
        readme_path = os.path.join(tree, "README.md")
        lines = open(readme_path).read().split("\n")
        start = lines.index("## What exists today")
        last = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
        while lines[last + 1].startswith("|"):
            last += 1
        lines.insert(last + 1, shared("README-row.md").rstrip("\n"))
        open(readme_path, "w").write("\n".join(lines))
        passed = run(check)
        print(passed.stdout, end="")
        if passed.returncode != 0:
            fail("check-steps.py on the tree with the step:\n" + passed.stdout + passed.stderr)

        # 5. What changed outside the step's own files.
        changed = sorted(f for f in before if not filecmp.cmp(os.path.join(source, f), os.path.join(tree, f), shallow=False))
        added = sorted(set(own) - set(before))
        if sorted(own) != added:
            fail(f"the fixture's files overwrite existing ones: {sorted(set(own) & set(before))}")
        generated = [f for f in changed
                     if f.startswith("workflows/argo/plugin/") or f == "workflows/argo/kustomization.yaml"]
        by_hand = [f for f in changed if f not in generated]
        print(f"own files ({len(added)}): " + ", ".join(added))
        print(f"shared files edited by hand ({len(by_hand)}): " + ", ".join(by_hand))
        print(f"written by scripts/plugin-workflows.py ({len(generated)}): " + ", ".join(generated))
        if len(by_hand) > 3:
            fail(f"adding a step edits {len(by_hand)} shared files by hand, more than 3")
        # A step no playbook calls and the plugin's policy does not enable
        # stays out of the plugin flavour: the script changes nothing.
        if [f for f in generated if f.startswith("workflows/argo/plugin/")]:
            fail(f"scripts/plugin-workflows.py changed the plugin flavour for an unused step: {generated}")
        # Its image joins the kustomize package's images list.
        if "workflows/argo/kustomization.yaml" not in generated:
            fail("scripts/plugin-workflows.py did not add the step's image to workflows/argo/kustomization.yaml")
        kustomization = open(os.path.join(tree, "workflows", "argo", "kustomization.yaml")).read()
        if f"  - rbac/{STEP}.yaml\n" not in kustomization or f"name: irsteps/{STEP}," not in kustomization:
            fail("workflows/argo/kustomization.yaml lacks the step's RBAC file or image:\n" + kustomization)

    print("adding example-step as docs/adding-a-step.md says: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
