#!/usr/bin/python3
"""Differential test: verify-image bundle and sigstore-js, an independent
verifier, on the same bundles; both must reach the same verdict.

  differential_test.py VERIFY_IMAGE_BINARY

The bundles: those our private test Sigstore (tests/support/sigstore-sign.py)
makes, keyless and key-signed, message signatures and DSSE attestations,
valid and with each check broken in turn, plus a wrong identity, issuer or
artifact; and every case of the Sigstore conformance suite in
tests/data/sigstore-conformance. Every bundle is verified against a
file artifact; DSSE bundles also against the digest alone (sigstore-js
verifies a message signature over the artifact's bytes, so it cannot take
only a digest for those).

Each verdict is also checked against the expected one (the case's name for
the suite; the break for generated bundles), so two verifiers agreeing on a
wrong answer fail too. Where the two disagree for a reason we know, the case
is listed in KNOWN_DISAGREEMENTS with that reason and both verdicts asserted:
if sigstore-js changes, the test says so.

Exit 0 all agree; 1 a disagreement or a wrong verdict; 77 skipped (node,
npm or the npm packages not available), with an `IRSTEPS-SKIPPED: REASON`
line on stdout (tests/support/skip.hpp; tests/check-skips.py reads it).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SIGN = os.path.join(ROOT, "tests", "support", "sigstore-sign.py")
CONFORMANCE = os.path.join(ROOT, "tests", "data", "sigstore-conformance")
BEACON_IDENTITY = ("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
                   ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main")
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
IDENTITY, ISSUER = "release@irsteps.test", "https://issuer.irsteps.test"

# case -> (verify-image's verdict, sigstore-js's verdict, why they differ).
# sigstore-js here is @sigstore/verify 3.1.1 (package-lock.json); each reason
# was checked in its source, and still holds in 4.1.3, the newest release.
KNOWN_DISAGREEMENTS = {
    "generated/keyless-message/break-eku": (
        "rejected", "verified",
        "sigstore-js never checks the leaf certificate's extended key usage (no id-kp-codeSigning check in "
        "@sigstore/core or @sigstore/verify); cosign and Fulcio's profile require code signing"),
    "generated/keyless-dsse/break-eku": (
        "rejected", "verified", "as keyless-message/break-eku: no code-signing EKU check in sigstore-js"),
    "generated/keyless-dsse/other-artifact": (
        "rejected", "verified",
        "sigstore-js's Verifier checks the DSSE signature and log entry but leaves matching the in-toto "
        "subject to the artifact to its caller; the conformance contract (and verify-image) require it"),
    "generated/key-dsse/other-artifact": (
        "rejected", "verified", "as keyless-dsse/other-artifact: no in-toto subject check in sigstore-js"),
    "conformance/rekor2-dsse-happy-path": (
        "verified", "rejected",
        "a DSSE envelope logged to Rekor v2 as hashedrekord/0.0.2 over Hash(PAE) (rekor-v2-spec 6.1.4): "
        "sigstore-js compares that digest with the payload's digest (TLOG_BODY_ERROR: digest mismatch)"),
    "conformance/rekor2-dsse-happy-path@digest": (
        "verified", "rejected", "as conformance/rekor2-dsse-happy-path"),
    "conformance/trust-root-tlog-missing-validity-start_fail": (
        "rejected", "verified",
        "a transparency log in the trusted root without validFor.start: sigstore-js takes it as valid since "
        "the beginning of time (toTrustMaterial's BEGINNING_OF_TIME); the suite requires a rejection"),
}

BREAKS_CERTIFICATE = ["eku", "sct", "sct-log", "expired", "ca"]
BREAKS_ANY = ["signature", "set", "body", "proof", "checkpoint"]


def skip(reason):
    reason = " | ".join(line.strip() for line in reason.splitlines() if line.strip())  # one line
    print(f"IRSTEPS-SKIPPED: {reason}", flush=True)
    sys.exit(77)


def install_sigstore_js():
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            skip(f"{tool} is not installed (scripts/install-deps.sh installs it)")
    result = subprocess.run([os.path.join(HERE, "install.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        skip("tests/sigstore-js/install.sh could not install the npm packages: " + result.stderr.strip()[-400:])
    return result.stdout.strip()


class Verifiers:
    def __init__(self, verify_image, node_path):
        self.verify_image = verify_image
        self.env = dict(os.environ, NODE_PATH=node_path)

    def ours(self, bundle, policy, trusted_root, artifact):
        result = subprocess.run([self.verify_image, "bundle", "--bundle", bundle, *policy,
                                 "--trusted-root", trusted_root, artifact], capture_output=True, text=True)
        verdict = {0: "verified", 2: "rejected", 3: "rejected"}.get(result.returncode, "error")
        return verdict, last_message(result)

    def sigstore_js(self, bundle, policy, trusted_root, artifact):
        result = subprocess.run(["node", os.path.join(HERE, "verify.js"), "--bundle", bundle, *policy,
                                 "--trusted-root", trusted_root, artifact],
                                capture_output=True, text=True, env=self.env)
        verdict = {0: "verified", 1: "rejected"}.get(result.returncode, "error")
        return verdict, result.stderr.strip()[-300:]


def last_message(result):
    """The reason in verify-image's last JSON log line that has one."""
    for line in reversed(result.stderr.splitlines()):
        try:
            message = json.loads(line).get("message")
        except (ValueError, AttributeError):
            continue
        if message:
            return message
    return result.stderr.strip()[-300:]


def generated_cases(work):
    """(name, bundle, policy, trusted root, artifact, expected) for bundles of our test Sigstore."""
    store = os.path.join(work, "sigstore")
    subprocess.run([SIGN, "init", store], check=True)
    subprocess.run([SIGN, "keypair", os.path.join(work, "signer.key"), os.path.join(work, "signer.pub")],
                   check=True)
    artifact, other = os.path.join(work, "artifact"), os.path.join(work, "other-artifact")
    for path in (artifact, other):
        with open(path, "wb") as f:
            f.write(os.urandom(4096))
    with open(artifact, "rb") as f:
        digest = "sha256:" + hashlib.sha256(f.read()).hexdigest()
    predicate = os.path.join(work, "predicate.json")
    with open(predicate, "w") as f:
        json.dump({"buildType": "https://irsteps.test/differential"}, f)
    trusted_root = os.path.join(store, "trusted_root.json")
    keyless = ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER]
    keyed = ["--key", os.path.join(work, "signer.pub")]
    signers = {"keyless": ["--identity", IDENTITY, "--issuer", ISSUER],
               "key": ["--key", os.path.join(work, "signer.key")]}
    contents = {"message": [], "dsse": ["--predicate-type", "https://slsa.dev/provenance/v1",
                                        "--predicate", predicate]}
    for signer, sign_args in signers.items():
        policy = keyless if signer == "keyless" else keyed
        # A key-signed bundle has no certificate: the certificate breaks would change nothing.
        breaks = [""] + (BREAKS_CERTIFICATE if signer == "keyless" else []) + BREAKS_ANY
        for content, content_args in contents.items():
            kind = f"{signer}-{content}"
            for broken in breaks:
                bundle = os.path.join(work, f"{kind}-{broken or 'valid'}.json")
                with open(bundle, "w") as out:
                    subprocess.run([SIGN, "bundle", store, "--digest", digest, *sign_args, *content_args,
                                    *(["--break", broken] if broken else [])], check=True, stdout=out)
                name = f"generated/{kind}/" + (f"break-{broken}" if broken else "valid")
                yield name, bundle, policy, trusted_root, artifact, "rejected" if broken else "verified"
                if content == "dsse" and not broken:
                    yield name + "@digest", bundle, policy, trusted_root, digest, "verified"
            valid = os.path.join(work, f"{kind}-valid.json")
            yield f"generated/{kind}/other-artifact", valid, policy, trusted_root, other, "rejected"
            if signer == "keyless":
                wrong_identity = ["--certificate-identity", "someone@irsteps.test", "--certificate-oidc-issuer", ISSUER]
                wrong_issuer = ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", "https://other.test"]
                yield f"generated/{kind}/other-identity", valid, wrong_identity, trusted_root, artifact, "rejected"
                yield f"generated/{kind}/other-issuer", valid, wrong_issuer, trusted_root, artifact, "rejected"


def read_text(path, default):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return f.read().strip()


def conformance_cases():
    """Every case of the suite, as its README describes the folder."""
    cases = os.path.join(CONFORMANCE, "bundle-verify")
    default_artifact = os.path.join(cases, "a.txt")
    for case in sorted(os.listdir(cases)):
        folder = os.path.join(cases, case)
        if not os.path.isdir(folder):
            continue
        bundle = os.path.join(folder, "bundle.sigstore.json")
        artifact = os.path.join(folder, "artifact")
        artifact = artifact if os.path.exists(artifact) else default_artifact
        trusted_root = os.path.join(folder, "trusted_root.json")
        if not os.path.exists(trusted_root):
            trusted_root = os.path.join(CONFORMANCE, "production_trusted_root.json")
        if os.path.exists(os.path.join(folder, "key.pub")):
            policy = ["--key", os.path.join(folder, "key.pub")]
        else:
            policy = ["--certificate-identity", read_text(os.path.join(folder, "identity"), BEACON_IDENTITY),
                      "--certificate-oidc-issuer", read_text(os.path.join(folder, "issuer"), GITHUB_ISSUER)]
        expected = "rejected" if case.endswith("_fail") else "verified"
        yield f"conformance/{case}", bundle, policy, trusted_root, artifact, expected
        if is_dsse(bundle):
            with open(artifact, "rb") as f:
                digest = "sha256:" + hashlib.sha256(f.read()).hexdigest()
            yield f"conformance/{case}@digest", bundle, policy, trusted_root, digest, expected


def is_dsse(bundle):
    try:
        with open(bundle) as f:
            return "dsseEnvelope" in json.load(f)
    except ValueError:
        return False


def check(verifiers, case):
    """Runs both verifiers on one case; returns the failures (empty if all is as it should be)."""
    name, bundle, policy, trusted_root, artifact, expected = case
    ours, our_reason = verifiers.ours(bundle, policy, trusted_root, artifact)
    theirs, their_reason = verifiers.sigstore_js(bundle, policy, trusted_root, artifact)
    known = KNOWN_DISAGREEMENTS.get(name)
    status = "agree" if ours == theirs else "DIFFER"
    print(f"{status:<7} {expected:<9} verify-image {ours:<9} sigstore-js {theirs:<9} {name}", flush=True)
    failures = []
    if "error" in (ours, theirs):
        failures.append(f"{name}: a verifier failed to run: verify-image: {our_reason}; sigstore-js: {their_reason}")
    if ours != expected:
        failures.append(f"{name}: verify-image {ours}, expected {expected}: {our_reason}")
    if known is not None:
        if (ours, theirs) != known[:2]:
            failures.append(f"{name}: listed as a known disagreement (verify-image {known[0]}, sigstore-js "
                            f"{known[1]}: {known[2]}), but now verify-image {ours}, sigstore-js {theirs}: "
                            f"update KNOWN_DISAGREEMENTS")
        else:
            print(f"        known difference: {known[2]}", flush=True)
    elif ours != theirs:
        failures.append(f"{name}: verify-image {ours} ({our_reason}), sigstore-js {theirs} ({their_reason})")
    return failures


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    verify_image = os.path.abspath(sys.argv[1])
    if not os.access(verify_image, os.X_OK):
        sys.exit(f"differential_test.py: {verify_image} is not an executable")
    verifiers = Verifiers(verify_image, install_sigstore_js())
    failures, count, seen = [], 0, set()
    with tempfile.TemporaryDirectory(prefix="sigstore-js-diff-") as work:
        cases = list(generated_cases(work)) + list(conformance_cases())
        for case in cases:
            count += 1
            seen.add(case[0])
            failures += check(verifiers, case)
    for name in sorted(set(KNOWN_DISAGREEMENTS) - seen):
        failures.append(f"{name}: listed in KNOWN_DISAGREEMENTS but no such case ran")
    for failure in failures:
        print("FAIL: " + failure, flush=True)
    print(f"{count} bundles compared, {len(KNOWN_DISAGREEMENTS)} known disagreements, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
