#!/usr/bin/env python3
"""Checks that everything our GitHub workflows and actions run from elsewhere
is pinned, so that whoever can move a tag upstream cannot change what runs:

- every `uses: OWNER/REPO[/PATH]@REF` of another repository names a full
  40-hex commit SHA, with the version it is in a comment on the same line
  (`uses: actions/checkout@<sha> # v4.4.0`);
- every `docker://IMAGE` names its digest (`IMAGE:TAG@sha256:<64 hex>`);
- every `FROM` of an action's Dockerfile that is not one of our own images
  names its digest.

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

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[2])
OWN_REPO = "irsteps/irsteps/"
OWN_IMAGES = "ghcr.io/irsteps/"

USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(?P<image>\S+)", re.IGNORECASE)
SHA = re.compile(r"^[0-9a-f]{40}$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
VERSION_COMMENT = re.compile(r"^v?\d+(\.\d+)*\b")


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(\s*irsteps\s+VERSION\s+(\d+\.\d+\.\d+)", text)
    if not match:
        sys.exit("check-pinned: no project(irsteps VERSION X.Y.Z) in CMakeLists.txt")
    return match.group(1)


def files():
    yield from sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    yield from sorted((ROOT / "workflows" / "github").rglob("action.yml"))
    yield from sorted((ROOT / "workflows" / "github").rglob("*.yml"))


def check_image(image, where, version, problems, own):
    if image.startswith(OWN_IMAGES):
        if not image.endswith(":" + version) and "@sha256:" not in image:
            problems.append(f"{where}: {image}: our own image names another version than {version}")
        own.append(f"{where}: {image}")
    elif not DIGEST.search(image):
        problems.append(f"{where}: {image} is not pinned by digest (IMAGE:TAG@sha256:<64 hex>)")


def main():
    version = project_version()
    problems, own = [], []
    seen = set()
    for path in files():
        if path in seen:
            continue
        seen.add(path)
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            match = USES.match(line)
            if not match:
                continue
            where = f"{path.relative_to(ROOT)}:{number}"
            ref, comment = match.group("ref").strip("'\""), (match.group("comment") or "").strip()
            if ref.startswith("./"):
                continue
            if ref.startswith("docker://"):
                check_image(ref[len("docker://"):], where, version, problems, own)
                continue
            if "@" not in ref:
                problems.append(f"{where}: {ref} names no ref")
                continue
            name, at = ref.rsplit("@", 1)
            if name.startswith(OWN_REPO):
                if at != "v" + version and not SHA.match(at):
                    problems.append(f"{where}: {ref}: our own action names another version than v{version}")
                own.append(f"{where}: {ref}")
            elif not SHA.match(at):
                problems.append(f"{where}: {ref} is not pinned by a full commit SHA")
            elif not VERSION_COMMENT.match(comment):
                problems.append(f"{where}: {ref} has no '# vX.Y.Z' comment saying which version the SHA is")
    for dockerfile in sorted((ROOT / "workflows" / "github").rglob("Dockerfile")):
        for number, line in enumerate(dockerfile.read_text().splitlines(), 1):
            match = FROM.match(line)
            if match:
                check_image(match.group("image"), f"{dockerfile.relative_to(ROOT)}:{number}", version, problems,
                            own)
    for line in own:
        print(f"our own, at version {version}: {line}")
    for line in problems:
        print(line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
