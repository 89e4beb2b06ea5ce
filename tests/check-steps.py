#!/usr/bin/env python3
"""Checks that every step of the one list (steps/CMakeLists.txt) has what a
step needs, and that nothing names a step the list does not have.

Usage: check-steps.py ROOT STEPS_JSON IMAGES_TXT
  ROOT        the source tree
  STEPS_JSON  generated/irsteps/steps.json of its build (cmake/step_list.cmake)
  IMAGES_TXT  bin/irsteps-steps.txt of its build, the list containers/build.sh
              builds images of

For each step: steps/<step>/main.cpp and <step with underscores>.hpp (the
plugin's table is generated from that convention), schemas/<step>.schema.json,
workflows/argo/rbac/<step>.yaml (absent for a step declared NO_KUBERNETES),
the step template <step> in workflows/argo/steps.yaml running the image
irsteps/<step>, which the images list of workflows/argo/kustomization.yaml
makes ghcr.io/irsteps/<step>:<version>, and, once the plugin's policy enables it or
a playbook calls it, in its plugin flavour; the image, the
README's row and at least one unit test tests/steps/<step>/*_test.cpp.
Each problem is printed naming the step and the missing piece; exit 1 if any.
docs/adding-a-step.md is the guide these checks follow.
"""
import glob
import json
import os
import re
import sys

import yaml


def main():
    if len(sys.argv) != 4:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    root, steps_json, images_txt = sys.argv[1:]
    steps = json.load(open(steps_json))
    names = [s["name"] for s in steps]
    images = open(images_txt).read().split()
    version = re.search(r"^project\(irsteps VERSION ([0-9.]+)", open(os.path.join(root, "CMakeLists.txt")).read(),
                        re.M).group(1)
    argo = os.path.join(root, "workflows", "argo")
    kustomize_images = yaml.safe_load(open(os.path.join(argo, "kustomization.yaml"))).get("images") or []

    def templates(path):
        doc = yaml.safe_load(open(os.path.join(argo, path)))
        return {t["name"]: t for t in doc["spec"]["templates"]}

    container_templates = templates("steps.yaml")
    plugin_templates = templates("plugin/steps.yaml")
    policy = yaml.safe_load(open(os.path.join(argo, "plugin", "policy.yaml")))
    plugin_policy = set(yaml.safe_load(policy["data"]["policy.yaml"])["steps"])
    called = set()
    for path in glob.glob(os.path.join(argo, "playbooks", "*.yaml")):
        called |= set(re.findall(r"templateRef: \{name: irsteps-steps, template: ([a-z0-9-]+)\}",
                                 open(path).read()))
    readme = open(os.path.join(root, "README.md")).read()
    problems = []

    def need(step, ok, what):
        if not ok:
            problems.append(f"step {step}: {what}")

    for step in steps:
        name = step["name"]
        ident = name.replace("-", "_")
        folder = os.path.join(root, "steps", name)
        need(name, os.path.isfile(os.path.join(folder, "main.cpp")), f"steps/{name}/main.cpp is missing")
        need(name, os.path.isfile(os.path.join(folder, ident + ".hpp")),
             f"steps/{name}/{ident}.hpp is missing (it declares ir::steps::{ident}::step())")
        schema = os.path.join(root, "schemas", name + ".schema.json")
        if not os.path.isfile(schema):
            need(name, False, f"its schema schemas/{name}.schema.json is missing")
        else:
            try:
                json.load(open(schema))
            except ValueError as e:
                need(name, False, f"its schema schemas/{name}.schema.json is not JSON: {e}")
        rbac = os.path.join(argo, "rbac", name + ".yaml")
        if step["kubernetes"]:
            need(name, os.path.isfile(rbac),
                 f"its RBAC file workflows/argo/rbac/{name}.yaml is missing "
                 "(or declare the step NO_KUBERNETES in steps/CMakeLists.txt)")
            if os.path.isfile(rbac):
                kinds = {(d or {}).get("kind") for d in yaml.safe_load_all(open(rbac))}
                need(name, "ServiceAccount" in kinds and kinds & {"ClusterRole", "Role"},
                     f"workflows/argo/rbac/{name}.yaml has no ServiceAccount and Role or ClusterRole")
        else:
            need(name, not os.path.exists(rbac),
                 f"declared NO_KUBERNETES but has workflows/argo/rbac/{name}.yaml")
        template = container_templates.get(name)
        if template is None:
            need(name, False, f"its step template '{name}' is missing from workflows/argo/steps.yaml")
        else:
            container = template.get("container") or {}
            image = f"irsteps/{name}"
            need(name, container.get("image") == image,
                 f"its step template in workflows/argo/steps.yaml runs {container.get('image')!r}, not {image}")
            wanted = {"name": image, "newName": f"ghcr.io/irsteps/{name}", "newTag": version}
            need(name, wanted in kustomize_images,
                 f"workflows/argo/kustomization.yaml's images list has no {wanted}")
            need(name, (container.get("command") or [None])[0] == f"/usr/local/bin/{name}",
                 f"its step template in workflows/argo/steps.yaml does not run /usr/local/bin/{name}")
        # In the plugin flavour once the plugin's policy enables it or a
        # playbook calls it (scripts/plugin-workflows.py leaves it out before).
        need(name, name in plugin_templates or not (name in plugin_policy or name in called),
             f"its template is missing from workflows/argo/plugin/steps.yaml (run scripts/plugin-workflows.py)")
        need(name, name in images, f"its image is not in {images_txt} (containers/build.sh builds none)")
        need(name, re.search(r"^\| `" + re.escape(name) + r"` \|", readme, re.M) is not None,
             f"its row ('| `{name}` | ... |') is missing from README.md's table of steps")
        need(name, glob.glob(os.path.join(root, "tests", "steps", name, "*_test.cpp")),
             f"it has no unit test tests/steps/{name}/*_test.cpp")

    for main in sorted(glob.glob(os.path.join(root, "steps", "*", "main.cpp"))):
        folder = os.path.basename(os.path.dirname(main))
        if folder not in names:
            problems.append(f"steps/{folder}/main.cpp: {folder} is not in the list of steps "
                            f"(irsteps_step({folder} ...) in steps/CMakeLists.txt)")
    for template in container_templates:
        if template not in names:
            problems.append(f"workflows/argo/steps.yaml: template {template} is not a step of steps/CMakeLists.txt")

    for problem in problems:
        print(problem)
    print(f"{len(names)} steps, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
