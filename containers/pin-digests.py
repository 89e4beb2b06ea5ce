#!/usr/bin/env python3
"""Writes a kustomize overlay that pins every irsteps image by digest.

Usage: containers/pin-digests.py OUT_DIR REGISTRY < DIGESTS
  DIGESTS   one line per image: NAME sha256:<64 hex> (the digest the registry
            returned on push, as release.yml has it from `buildah push
            --digestfile`)
  REGISTRY  where the images are: REGISTRY/NAME@DIGEST (ghcr.io/irsteps)
  OUT_DIR   the overlay's folder (workflows/overlays/release in a release);
            its kustomization.yaml is written, naming workflows/argo by a
            relative path

The overlay is the base (workflows/argo) with each image of the base's
images list set to REGISTRY/NAME@DIGEST. Every image of that list needs a
digest, and every line must name one: a missing, unknown or repeated name,
or a digest that is not sha256:<64 hex>, is exit 2 naming it, and nothing is
written. Components (the plugin, the triggers) go in an overlay built on
this one, so their images follow (README).
"""
import os
import re
import sys

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    out_dir, registry = sys.argv[1], sys.argv[2].rstrip("/")
    base = os.path.join(ROOT, "workflows", "argo")
    listed = yaml.safe_load(open(os.path.join(base, "kustomization.yaml")))["images"]
    # The base's list maps irsteps/<name> to newName:newTag; the overlay sees
    # newName.
    names = {entry["name"].split("/", 1)[1]: entry["newName"] for entry in listed}
    digests = {}
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            print(f"pin-digests: line {number}: want NAME DIGEST, got {line.strip()!r}", file=sys.stderr)
            return 2
        name, digest = fields
        if name not in names:
            print(f"pin-digests: line {number}: {name} is not an image of workflows/argo/kustomization.yaml",
                  file=sys.stderr)
            return 2
        if name in digests:
            print(f"pin-digests: line {number}: {name} given twice", file=sys.stderr)
            return 2
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            print(f"pin-digests: line {number}: the digest of {name} is not sha256:<64 hex>: {digest!r}",
                  file=sys.stderr)
            return 2
        digests[name] = digest
    missing = sorted(set(names) - set(digests))
    if missing:
        print("pin-digests: no digest for " + ", ".join(missing), file=sys.stderr)
        return 2
    os.makedirs(out_dir, exist_ok=True)
    relative = os.path.relpath(base, os.path.abspath(out_dir))
    lines = ["# The irsteps images pinned by digest, written by containers/pin-digests.py.",
             "apiVersion: kustomize.config.k8s.io/v1beta1",
             "kind: Kustomization",
             "resources:",
             f"  - {relative}",
             "images:"]
    for name in sorted(digests):
        lines.append(f"  - {{name: {names[name]}, newName: {registry}/{name}, digest: \"{digests[name]}\"}}")
    with open(os.path.join(out_dir, "kustomization.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
