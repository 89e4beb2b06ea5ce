#!/usr/bin/env python3
"""Checks that everything our GitHub workflows and actions run from elsewhere
is pinned, so that whoever can move a tag upstream cannot change what runs:

- every `uses: OWNER/REPO[/PATH]@REF` of another repository names a full
  40-hex commit SHA, with the version it is in a comment on the same line
  (`uses: actions/checkout@<sha> # v4.4.0`);
- every `docker://IMAGE` names its digest (`IMAGE:TAG@sha256:<64 hex>`);
- every `FROM` of an action's Dockerfile that is not one of our own images
  names its digest, and so does an action's `runs.image: docker://...`.

It reads every workflow and action file (`.yml` and `.yaml`) as YAML, so a
`uses:` in flow style (`- {uses: ...}`) is found as well; the version comment
is read from the line the reference is on. A job's `container:` and
`services:` images are listed with the project's own references: GitHub
pulls them by tag too, and their digests are not checked here yet.

References to this project itself (`irsteps/irsteps/...@vX.Y.Z`,
`ghcr.io/irsteps/<step>:X.Y.Z`) are releases of the same commit's code: they
must name the version of CMakeLists.txt's project(), so that a release moves
them all at once. (Pinning those by digest needs the release to stamp the
digests it pushed; until then they are listed, not hidden.)

Usage: check-pinned.py [SOURCE_DIR]. Exit 0 when all is pinned, 1 with one line
per problem otherwise; the references of our own are printed either way.
"""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
OWN_REPO = "irsteps/irsteps/"
OWN_IMAGES = "ghcr.io/irsteps/"

FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)", re.IGNORECASE)
SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
VERSION_COMMENT = re.compile(r"#\s*v?\d+(\.\d+)*\b")


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(\s*irsteps\s+VERSION\s+(\d+\.\d+\.\d+)", text)
    if not match:
        sys.exit("check-pinned: no project(irsteps VERSION X.Y.Z) in CMakeLists.txt")
    return match.group(1)


def files():
    for folder in (ROOT / ".github" / "workflows", ROOT / "workflows" / "github"):
        for pattern in ("*.yml", "*.yaml"):
            yield from sorted(folder.rglob(pattern))


def walk(node, found):
    """Every (key, value) of the document's mappings, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((key, value, node))
            walk(value, found)
    elif isinstance(node, list):
        for item in node:
            walk(item, found)


class Lines:
    """The lines a value is written on, taken in the order the YAML gives them."""

    def __init__(self, text):
        self.lines = text.splitlines()
        self.taken = {}

    def of(self, value):
        start = self.taken.get(value, 0)
        for index in range(start, len(self.lines)):
            line = self.lines[index]
            if value in line and not line.lstrip().startswith("#"):
                self.taken[value] = index + 1
                return index + 1, line
        return 0, ""


def check_image(image, where, version, problems, listed):
    if image.startswith(OWN_IMAGES):
        if not image.endswith(":" + version) and "@sha256:" not in image:
            problems.append(f"{where}: {image}: our own image names another version than {version}")
        listed.append(f"{where}: {image}")
    elif not DIGEST.search(image):
        problems.append(f"{where}: {image} is not pinned by digest (IMAGE:TAG@sha256:<64 hex>)")


def main():
    version = project_version()
    problems, listed = [], []
    for path in sorted(set(files())):
        text = path.read_text()
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            problems.append(f"{path.relative_to(ROOT)}: not YAML: {error}")
            continue
        lines = Lines(text)
        found = []
        for document in documents:
            walk(document, found)
        for key, value, parent in found:
            if not isinstance(value, str):
                continue
            number, line = lines.of(value)
            where = f"{path.relative_to(ROOT)}:{number}"
            if key == "image" and path.name in ("action.yml", "action.yaml") and parent.get("using") == "docker":
                if value.startswith("docker://"):
                    check_image(value[len("docker://"):], where, version, problems, listed)
                continue
            if key in ("container", "image") and not value.startswith(("docker://", "Dockerfile", "${{")):
                # A job's container (a string, or its image) or a service's image.
                if path.parent.name == "workflows" and path.parent.parent.name == ".github":
                    listed.append(f"{where}: {value} (a job's container or service image, by tag)")
                continue
            if key != "uses":
                continue
            ref = value.strip()
            if ref.startswith("./"):
                continue
            if ref.startswith("docker://"):
                check_image(ref[len("docker://"):], where, version, problems, listed)
                continue
            if "@" not in ref:
                problems.append(f"{where}: {ref} names no ref")
                continue
            name, at = ref.rsplit("@", 1)
            if name.startswith(OWN_REPO):
                if at != "v" + version and not SHA.match(at):
                    problems.append(f"{where}: {ref}: our own action names another version than v{version}")
                listed.append(f"{where}: {ref}")
            elif not SHA.match(at):
                problems.append(f"{where}: {ref} is not pinned by a full commit SHA")
            elif not VERSION_COMMENT.search(line.split(ref, 1)[1] if ref in line else ""):
                problems.append(f"{where}: {ref} has no '# vX.Y.Z' comment saying which version the SHA is")
    for dockerfile in sorted((ROOT / "workflows" / "github").rglob("*Dockerfile*")):
        for number, line in enumerate(dockerfile.read_text().splitlines(), 1):
            match = FROM.match(line)
            if match and match.group("image") != "scratch" and "$" not in match.group("image"):
                check_image(match.group("image"), f"{dockerfile.relative_to(ROOT)}:{number}", version, problems,
                            listed)
    for line in listed:
        print(f"listed, not pinned by digest here (project version {version}): {line}")
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
