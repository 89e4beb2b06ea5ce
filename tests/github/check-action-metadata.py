#!/usr/bin/env python3
"""Checks the GitHub container actions under workflows/github/ (actionlint does
not read action.yml) against what GitHub accepts and against the steps:

- the metadata: name, description and runs required; only the keys GitHub
  knows; every input and output described; runs.using docker with an image
  that is the step's published one;
- the mapping: every argument is `--NAME=${{ inputs.NAME }}` and every
  environment variable `IRSTEPS_NAME: ${{ inputs.NAME }}`, NAME a parameter of
  the step's schema; every input used and every use an input; the schema's
  required parameters required; a boolean's default written out and equal
  to the step's; enum defaults among the values;
- the outputs: the names the step sets (set_output in steps/<step>/ and the
  driver), no more and no fewer;
- the workflows: every `uses:` of one of these actions (local path or
  irsteps/irsteps/workflows/github/<step>@ref) passes only its inputs and all
  its required ones.

Usage: check-action-metadata.py [SOURCE_DIR]. Exit 0 when all is well, 1 with
one line per problem otherwise.
"""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
ACTIONS = ROOT / "workflows" / "github"
REMOTE_PREFIX = "irsteps/irsteps/workflows/github/"

TOP_KEYS = {"name", "author", "description", "inputs", "outputs", "runs", "branding"}
RUNS_KEYS = {"using", "image", "args", "env", "entrypoint", "pre-entrypoint", "post-entrypoint",
             "pre-if", "post-if"}
INPUT_KEYS = {"description", "required", "default", "deprecationMessage"}
INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
ARG = re.compile(r"^--([a-z0-9-]+)=\$\{\{ inputs\.([A-Za-z0-9_-]+) \}\}$")
ENV_VALUE = re.compile(r"^\$\{\{ inputs\.([A-Za-z0-9_-]+) \}\}$")
INPUT_REF = re.compile(r"inputs\.([A-Za-z0-9_-]+)")
# Outputs a step sets on a path the action never takes (`verify-image bundle`).
NOT_ACTION_OUTPUTS = {"verify-image": {"signing-times"}}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(irsteps VERSION ([0-9.]+)", text)
    return match.group(1) if match else None


def load_schema(step):
    import json
    properties, required = {}, set()
    step_schema = json.loads((ROOT / "schemas" / f"{step}.schema.json").read_text())
    common = json.loads((ROOT / "schemas" / "common.schema.json").read_text())
    for schema in (common, step_schema):
        properties.update(schema.get("properties", {}))
        required.update(schema.get("required", []))
    if step_schema.get("x-incident-optional"):
        required.discard("incident-id")
    return properties, required


def param_type(spec):
    if "enum" in spec:
        return "enum"
    return spec.get("type", "string")


def step_outputs(step, with_case_record):
    """Literal names passed to set_output in the step's sources, and in the
    driver's when the case record is on (case-record, ...); a literal ending in
    '-' (`"vulnerabilities-" + name`) is a prefix."""
    names, prefixes = set(), set()
    sources = list((ROOT / "steps" / step).glob("*.cpp"))
    if with_case_record:
        sources.append(ROOT / "lib" / "driver" / "src" / "step.cpp")
    for source in sources:
        for name in re.findall(r'set_output\(\s*"([a-z0-9-]+)"', source.read_text()):
            (prefixes if name.endswith("-") else names).add(name)
    return names, prefixes


def check_image(where, action_dir, step, runs, version):
    image = runs.get("image")
    wanted = f"ghcr.io/irsteps/{step}:{version}"
    if image == f"docker://{wanted}":
        return
    if image != "Dockerfile":
        problem(where, f"runs.image is {image!r}: want Dockerfile (FROM {wanted}) or docker://{wanted}")
        return
    dockerfile = action_dir / "Dockerfile"
    if not dockerfile.is_file():
        problem(where, "runs.image is Dockerfile but there is no Dockerfile beside action.yml")
        return
    lines = [line.strip() for line in dockerfile.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines or lines[0] != f"FROM {wanted}":
        problem(str(dockerfile.relative_to(ROOT)), f"the first instruction must be FROM {wanted}")
    if "USER 0:0" not in lines and "USER root" not in lines:
        problem(str(dockerfile.relative_to(ROOT)), "GitHub runs actions without --user: the image needs USER 0:0")


def check_action(action_file, version):
    where = str(action_file.relative_to(ROOT))
    action_dir = action_file.parent
    step = action_dir.name
    try:
        action = yaml.safe_load(action_file.read_text())
    except yaml.YAMLError as e:
        problem(where, f"not YAML: {e}")
        return None
    if not isinstance(action, dict):
        problem(where, "not a mapping")
        return None
    for key in sorted(set(action) - TOP_KEYS):
        problem(where, f"unknown key {key!r}")
    for key in ("name", "description"):
        if not isinstance(action.get(key), str) or not action[key].strip():
            problem(where, f"{key} is required (a non-empty string)")
    runs = action.get("runs")
    if not isinstance(runs, dict):
        problem(where, "runs is required (a mapping)")
        return None
    for key in sorted(set(runs) - RUNS_KEYS):
        problem(where, f"unknown key runs.{key}")
    if runs.get("using") != "docker":
        problem(where, f"runs.using is {runs.get('using')!r}, not docker")
    check_image(where, action_dir, step, runs, version)
    entrypoint = runs.get("entrypoint")
    if entrypoint is not None and entrypoint != f"/usr/local/bin/{step}":
        problem(where, f"runs.entrypoint is {entrypoint!r}, not /usr/local/bin/{step}")

    schema_file = ROOT / "schemas" / f"{step}.schema.json"
    if not schema_file.is_file():
        problem(where, f"no step {step!r} (no {schema_file.relative_to(ROOT)})")
        return None
    properties, required_params = load_schema(step)

    inputs = action.get("inputs") or {}
    if not isinstance(inputs, dict):
        problem(where, "inputs must be a mapping")
        inputs = {}
    for name, spec in inputs.items():
        at = f"{where}: input {name}"
        if not INPUT_NAME.match(str(name)):
            problems.append(f"{at}: not a valid input id")
        if not isinstance(spec, dict):
            problems.append(f"{at}: must be a mapping")
            continue
        for key in sorted(set(spec) - INPUT_KEYS):
            problems.append(f"{at}: unknown key {key!r}")
        if not isinstance(spec.get("description"), str) or not spec["description"].strip():
            problems.append(f"{at}: description is required")
        if "required" in spec and not isinstance(spec["required"], bool):
            problems.append(f"{at}: required must be true or false")
        if "default" in spec and not isinstance(spec["default"], str):
            problems.append(f"{at}: default must be a string (quote it)")
        if not spec.get("required") and "default" not in spec:
            problems.append(f"{at}: an optional input needs a default ('' for not given)")

    outputs = action.get("outputs") or {}
    if not isinstance(outputs, dict):
        problem(where, "outputs must be a mapping")
        outputs = {}
    for name, spec in outputs.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("description"), str) \
                or not spec["description"].strip():
            problem(where, f"output {name}: description is required")
        elif set(spec) - {"description"}:
            problem(where, f"output {name}: a docker action's output has a description only")

    used = {}  # input -> parameter
    args = runs.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        problem(where, "runs.args must be a list of strings")
        args = []
    for arg in args:
        match = ARG.match(arg)
        if not match:
            problem(where, f"argument {arg!r} is not --NAME=${{{{ inputs.NAME }}}}")
            for ref in INPUT_REF.findall(arg):
                used.setdefault(ref, None)
            continue
        flag, name = match.groups()
        if flag != name:
            problem(where, f"argument --{flag} takes input {name}: name the input after the flag")
        used[name] = flag
        spec = properties.get(flag)
        if spec is None:
            problem(where, f"argument --{flag}: not a parameter of {step}")
        elif param_type(spec) == "array" and "one entry" not in str(inputs.get(name, {}).get("description", "")):
            problem(where, f"argument --{flag}: a list parameter as an argument is one item; pass it in "
                           f"runs.env as IRSTEPS_{flag.upper().replace('-', '_')} (split at commas) or say "
                           f"'one entry' in the input's description")
    env = runs.get("env") or {}
    if not isinstance(env, dict):
        problem(where, "runs.env must be a mapping")
        env = {}
    for variable, value in env.items():
        match = ENV_VALUE.match(str(value))
        if not match:
            problem(where, f"env {variable}: value {value!r} is not ${{{{ inputs.NAME }}}}")
            for ref in INPUT_REF.findall(str(value)):
                used.setdefault(ref, None)
            continue
        name = match.group(1)
        if variable != "IRSTEPS_" + name.upper().replace("-", "_"):
            problem(where, f"env {variable} takes input {name}: want IRSTEPS_{name.upper().replace('-', '_')}")
        if name not in properties:
            problem(where, f"env {variable}: {name} is not a parameter of {step}")
        if name in used:
            problem(where, f"input {name} is passed twice")
        used[name] = name

    for name in used:
        if name not in inputs:
            problem(where, f"runs uses inputs.{name}, which is not an input")
    for name in inputs:
        if name not in used:
            problem(where, f"input {name} is never passed to the step")
    for name, param in used.items():
        if param is None or name not in inputs or param not in properties:
            continue
        spec, default = properties[param], inputs[name].get("default", "")
        kind = param_type(spec)
        if kind == "boolean":
            step_default = "true" if spec.get("default") is True else "false"
            if default != step_default:
                problem(where, f"input {name}: a boolean's default is written out and is the step's: "
                               f"'{step_default}', not {default!r}")
        if kind == "enum" and default and default not in spec["enum"]:
            problem(where, f"input {name}: default {default!r} is not one of {spec['enum']}")
    for param in sorted(required_params):
        if param not in used:
            problem(where, f"the step requires {param}: no input passes it")
        elif not inputs.get(param, {}).get("required"):
            problem(where, f"input {param}: the step requires it, so it must be required: true")

    names, prefixes = step_outputs(step, "case-repo" in used.values())
    for name in outputs:
        if name not in names and not any(name.startswith(p) for p in prefixes):
            problem(where, f"output {name}: {step} never sets it")
    for name in sorted(names - set(outputs) - NOT_ACTION_OUTPUTS.get(step, set())):
        problem(where, f"{step} sets output {name}: declare it")
    return inputs


def workflow_uses(document):
    """(where, uses, with) of every step in the jobs of a workflow."""
    jobs = (document or {}).get("jobs") or {}
    for job_name, job in jobs.items():
        for index, step in enumerate((job or {}).get("steps") or []):
            if isinstance(step, dict) and isinstance(step.get("uses"), str):
                yield f"jobs.{job_name}.steps[{index}]", step["uses"], step.get("with") or {}


def check_workflows(actions, version):
    for workflow in sorted((ROOT / ".github" / "workflows").glob("*.y*ml")):
        where = str(workflow.relative_to(ROOT))
        try:
            document = yaml.safe_load(workflow.read_text())
        except yaml.YAMLError as e:
            problem(where, f"not YAML: {e}")
            continue
        for at, uses, given in workflow_uses(document):
            step = None
            if uses.startswith("./workflows/github/"):
                step = uses[len("./workflows/github/"):].rstrip("/")
            elif uses.startswith(REMOTE_PREFIX):
                step, _, ref = uses[len(REMOTE_PREFIX):].partition("@")
                if ref != f"v{version}":
                    problem(where, f"{at}: {uses}: reference this release's tag, @v{version}")
            if step is None:
                continue
            if step not in actions:
                problem(where, f"{at}: there is no action workflows/github/{step}")
                continue
            inputs = actions[step] or {}
            for name in given:
                if name not in inputs:
                    problem(where, f"{at}: {step} has no input {name!r}")
            for name, spec in inputs.items():
                if isinstance(spec, dict) and spec.get("required") and name not in given:
                    problem(where, f"{at}: {step} needs input {name!r}")


def main():
    version = project_version()
    if version is None:
        problem("CMakeLists.txt", "no project version")
    action_files = sorted(ACTIONS.glob("*/action.yml")) + sorted(ACTIONS.glob("*/action.yaml"))
    if not action_files:
        problem(str(ACTIONS.relative_to(ROOT)), "no actions found")
    actions = {}
    for action_file in action_files:
        actions[action_file.parent.name] = check_action(action_file, version)
    check_workflows(actions, version)
    for line in problems:
        print(line, file=sys.stderr)
    if problems:
        print(f"check-action-metadata: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"check-action-metadata: {len(actions)} action(s) and their uses are consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
