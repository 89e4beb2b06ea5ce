#!/usr/bin/python3
"""A private Sigstore for tests: a Fulcio-like CA (root and intermediate), a
CT log key, a Rekor key, and the trusted_root.json that trusts them, all made
with the `cryptography` package (OpenSSL). It signs the way cosign does:

  init DIR
      make the keys and DIR/trusted_root.json (validity from an hour ago).
  legacy DIR --payload FILE (--identity SAN --issuer URL | --key PEM) [--break CHECK]
      a cosign simple-signing signature: prints the layer's annotations
      (signature, certificate, chain, bundle) as a JSON object.
  bundle DIR --digest sha256:HEX (--identity SAN --issuer URL | --key PEM) [--break CHECK]
         [--predicate-type URI --predicate FILE] [--tsa] [--no-tlog]
      a v0.3 Sigstore bundle (message signature over the digest, Rekor entry
      with promise, inclusion proof in a tree of two and a signed checkpoint);
      with a predicate, a DSSE envelope of an in-toto statement about the
      digest instead (an attestation, as `cosign attest` makes). --tsa adds
      an RFC 3161 timestamp over the signature from the test's timestamp
      authority (made by `openssl ts`); --no-tlog leaves out the log entry.
  keypair OUT_PRIVATE OUT_PUBLIC
      an ECDSA P-256 key pair in PEM.

--break names the one check the signature must fail: signature, eku, sct,
sct-log, set, body, expired, ca, proof, checkpoint, tsa (a timestamp by an
authority the trusted root does not know), tsa-imprint (a timestamp over
other bytes).
Nothing here is secret beyond the test; never use it for real signing.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

SCT_LIST_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
ISSUER_V2_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
ISSUER_V1_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ORIGIN = "rekor.irsteps.test - 1"
# A signed note's key name has no spaces (it is Rekor's host name, not the
# checkpoint's origin): readers such as sigstore-js find the signature lines
# by that rule.
NOTE_KEY_NAME = "rekor.irsteps.test"


def b64(data):
    return base64.b64encode(data).decode()


def now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def pub_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def pub_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def sign(key, data):
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "irsteps test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def ca_cert(key, subject, issuer_key, issuer_name, path_length):
    start = now() - datetime.timedelta(hours=1)
    builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                              critical=True))
    return builder.sign(issuer_key, hashes.SHA256())


def tsa_cert(key, issuer_key, issuer_name):
    """A timestamping certificate: the critical timeStamping usage RFC 3161 asks for."""
    start = now() - datetime.timedelta(hours=1)
    return (x509.CertificateBuilder().subject_name(name("tsa")).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(issuer_key, hashes.SHA256()))


def timestamp(directory, signature, broken):
    """A DER TimeStampResp over SHA-256(signature) from the test's authority,
    made by `openssl ts -reply` (what a timestamp authority runs)."""
    with tempfile.TemporaryDirectory() as work:
        key_file, cert_file = os.path.join(directory, "tsa.key"), os.path.join(directory, "tsa.crt")
        if broken == "tsa":
            rogue_root_key, rogue_key = new_key(), new_key()
            rogue_root = ca_cert(rogue_root_key, "tsa root", rogue_root_key, name("tsa root"), 0)
            key_file, cert_file = os.path.join(work, "rogue.key"), os.path.join(work, "rogue.crt")
            write(key_file, key_pem(rogue_key))
            write(cert_file, tsa_cert(rogue_key, rogue_root_key, rogue_root.subject)
                  .public_bytes(serialization.Encoding.PEM))
        write(os.path.join(work, "data"), signature if broken != "tsa-imprint" else signature + b"x")
        write(os.path.join(work, "serial"), b"01\n")
        config = os.path.join(work, "tsa.cnf")
        write(config, ("[tsa]\ndefault_tsa = test\n[test]\n"
                       "serial = %s\nsigner_cert = %s\nsigner_key = %s\nsigner_digest = sha256\n"
                       "default_policy = 1.3.6.1.4.1.57264.2\ndigests = sha256\naccuracy = secs:1\n"
                       "ordering = no\ntsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n"
                       % (os.path.join(work, "serial"), cert_file, key_file)).encode())
        query, response = os.path.join(work, "query.tsq"), os.path.join(work, "response.tsr")
        subprocess.run(["openssl", "ts", "-query", "-data", os.path.join(work, "data"), "-sha256", "-cert",
                        "-no_nonce", "-out", query], check=True, capture_output=True)
        subprocess.run(["openssl", "ts", "-reply", "-config", config, "-queryfile", query, "-out", response],
                       check=True, capture_output=True)
        with open(response, "rb") as f:
            return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def init(directory):
    os.makedirs(directory, exist_ok=True)
    root_key, intermediate_key, ct_key, rekor_key = new_key(), new_key(), new_key(), new_key()
    tsa_root_key, tsa_key = new_key(), new_key()
    tsa_root = ca_cert(tsa_root_key, "tsa root", tsa_root_key, name("tsa root"), 0)
    tsa = tsa_cert(tsa_key, tsa_root_key, tsa_root.subject)
    write(os.path.join(directory, "tsa.key"), key_pem(tsa_key))
    write(os.path.join(directory, "tsa.crt"), tsa.public_bytes(serialization.Encoding.PEM))
    root = ca_cert(root_key, "fulcio root", root_key, name("fulcio root"), 1)
    intermediate = ca_cert(intermediate_key, "fulcio intermediate", root_key, root.subject, 0)
    for file, key in (("root.key", root_key), ("intermediate.key", intermediate_key), ("ct.key", ct_key),
                      ("rekor.key", rekor_key)):
        write(os.path.join(directory, file), key_pem(key))
    write(os.path.join(directory, "root.crt"), root.public_bytes(serialization.Encoding.PEM))
    write(os.path.join(directory, "intermediate.crt"), intermediate.public_bytes(serialization.Encoding.PEM))
    start = (now() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def log(key, url):
        der = pub_der(key)
        return {"baseUrl": url, "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(der), "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": start}},
                "logId": {"keyId": b64(hashlib.sha256(der).digest())}}

    trusted_root = {
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [log(rekor_key, "https://rekor.irsteps.test")],
        "certificateAuthorities": [{
            "subject": {"organization": "irsteps test", "commonName": "fulcio"},
            "uri": "https://fulcio.irsteps.test",
            "certChain": {"certificates": [
                {"rawBytes": b64(intermediate.public_bytes(serialization.Encoding.DER))},
                {"rawBytes": b64(root.public_bytes(serialization.Encoding.DER))}]},
            "validFor": {"start": start}}],
        "ctlogs": [log(ct_key, "https://ctfe.irsteps.test")],
        "timestampAuthorities": [{
            "subject": {"organization": "irsteps test", "commonName": "tsa"},
            "uri": "https://tsa.irsteps.test",
            "certChain": {"certificates": [
                {"rawBytes": b64(tsa.public_bytes(serialization.Encoding.DER))},
                {"rawBytes": b64(tsa_root.public_bytes(serialization.Encoding.DER))}]},
            "validFor": {"start": start}}]}
    write(os.path.join(directory, "trusted_root.json"), json.dumps(trusted_root, indent=2).encode())


class Sigstore:
    def __init__(self, directory):
        self.dir = directory
        self.intermediate_key = load_key(os.path.join(directory, "intermediate.key"))
        self.ct_key = load_key(os.path.join(directory, "ct.key"))
        self.rekor_key = load_key(os.path.join(directory, "rekor.key"))
        with open(os.path.join(directory, "intermediate.crt"), "rb") as f:
            self.intermediate = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(directory, "root.crt"), "rb") as f:
            self.root = x509.load_pem_x509_certificate(f.read())

    def chain_pem(self):
        return (self.intermediate.public_bytes(serialization.Encoding.PEM) +
                self.root.public_bytes(serialization.Encoding.PEM)).decode()

    def leaf(self, public_key, identity, issuer, broken):
        """A Fulcio-style code-signing certificate with an embedded SCT."""
        signer_key, signer_name = self.intermediate_key, self.intermediate.subject
        if broken == "ca":
            signer_key, signer_name = new_key(), self.intermediate.subject
        start = now() - datetime.timedelta(seconds=30)
        if broken == "expired":
            start = now() - datetime.timedelta(hours=2)
        san = x509.RFC822Name(identity) if "@" in identity and "://" not in identity \
            else x509.UniformResourceIdentifier(identity)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if broken == "eku" else [ExtendedKeyUsageOID.CODE_SIGNING]
        issuer_bytes = issuer.encode()
        builder = (x509.CertificateBuilder().subject_name(x509.Name([])).issuer_name(signer_name)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(start + datetime.timedelta(minutes=10))
                   .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
                   .add_extension(x509.SubjectAlternativeName([san]), critical=True)
                   .add_extension(x509.UnrecognizedExtension(ISSUER_V1_OID, issuer_bytes), critical=False)
                   .add_extension(x509.UnrecognizedExtension(
                       ISSUER_V2_OID, bytes([0x0C, len(issuer_bytes)]) + issuer_bytes), critical=False))
        # The CT log signs the certificate's TBS without the SCT list; the
        # list is then added as the last extension of the real certificate.
        tbs = builder.sign(signer_key, hashes.SHA256()).tbs_certificate_bytes
        ct_key = new_key() if broken == "sct-log" else self.ct_key
        issuer_key_hash = hashlib.sha256(
            self.intermediate.public_key().public_bytes(serialization.Encoding.DER,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
        timestamp = int(time.time() * 1000)
        signed = (struct.pack(">BBQH", 0, 0, timestamp, 1) + issuer_key_hash +
                  struct.pack(">I", len(tbs))[1:] + tbs + struct.pack(">H", 0))
        signature = sign(ct_key, signed)
        if broken == "sct":
            signature = sign(ct_key, signed + b"x")
        sct = (struct.pack(">B", 0) + hashlib.sha256(pub_der(ct_key)).digest() + struct.pack(">QH", timestamp, 0) +
               struct.pack(">BBH", 4, 3, len(signature)) + signature)
        sct_list = struct.pack(">H", len(sct) + 2) + struct.pack(">H", len(sct)) + sct
        octets = bytes([0x04]) + der_length(len(sct_list)) + sct_list
        builder = builder.add_extension(x509.UnrecognizedExtension(SCT_LIST_OID, octets), critical=False)
        return builder.sign(signer_key, hashes.SHA256())

    def rekor(self, signature, verifier_pem, digest, broken, tree_size=1, index=None, dsse_payload=None):
        """A hashedrekord (or dsse) entry: body, integrated time, log id, index, SET."""
        recorded = signature if broken != "body" else signature[::-1]
        if dsse_payload is None:
            body = {"apiVersion": "0.0.1", "kind": "hashedrekord",
                    "spec": {"data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                             "signature": {"content": b64(recorded), "publicKey": {"content": b64(verifier_pem)}}}}
        else:
            body = {"apiVersion": "0.0.1", "kind": "dsse",
                    "spec": {"payloadHash": {"algorithm": "sha256",
                                             "value": hashlib.sha256(dsse_payload).hexdigest()},
                             "signatures": [{"signature": b64(recorded), "verifier": b64(verifier_pem)}]}}
        body_bytes = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
        log_id = hashlib.sha256(pub_der(self.rekor_key)).digest()
        entry = {"body": b64(body_bytes), "integratedTime": int(time.time()), "logID": log_id.hex(),
                 "logIndex": tree_size - 1 if index is None else index}
        set_key = new_key() if broken == "set" else self.rekor_key
        entry["set"] = sign(set_key, json.dumps(
            {k: entry[k] for k in ("body", "integratedTime", "logID", "logIndex")},
            sort_keys=True, separators=(",", ":")).encode())
        entry["body_bytes"] = body_bytes
        entry["log_id"] = log_id
        return entry

    def signer(self, args, broken):
        """The signing key, the verifier's PEM and the certificate (if keyless)."""
        if args.key:
            key = load_key(args.key)
            return key, pub_pem(key.public_key()), None
        key = new_key()
        cert = self.leaf(key.public_key(), args.identity, args.issuer, broken)
        return key, cert.public_bytes(serialization.Encoding.PEM), cert


def der_length(n):
    if n < 0x80:
        return bytes([n])
    out = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(out)]) + out


def legacy(args):
    store = Sigstore(args.dir)
    with open(args.payload, "rb") as f:
        payload = f.read()
    key, verifier, cert = store.signer(args, args.broken)
    signature = sign(key, payload if args.broken != "signature" else payload + b" ")
    entry = store.rekor(signature, verifier, hashlib.sha256(payload).digest(), args.broken)
    annotations = {"dev.cosignproject.cosign/signature": b64(signature)}
    if cert is not None:
        annotations["dev.sigstore.cosign/certificate"] = verifier.decode()
        annotations["dev.sigstore.cosign/chain"] = store.chain_pem()
    if not args.no_tlog:
        annotations["dev.sigstore.cosign/bundle"] = json.dumps({
            "SignedEntryTimestamp": b64(entry["set"]),
            "Payload": {"body": entry["body"], "integratedTime": entry["integratedTime"],
                        "logIndex": entry["logIndex"], "logID": entry["logID"]}})
    json.dump(annotations, sys.stdout)


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def bundle(args):
    store = Sigstore(args.dir)
    digest = bytes.fromhex(args.digest.split(":", 1)[1])
    key, verifier, cert = store.signer(args, args.broken)
    statement = None
    if args.predicate_type:
        with open(args.predicate, "rb") as f:
            predicate = json.load(f)
        statement = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                                "subject": [{"name": "image", "digest": {"sha256": digest.hex()}}],
                                "predicateType": args.predicate_type, "predicate": predicate}).encode()
        payload_type = b"application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type, len(statement), statement)
        signature = sign(key, pae if args.broken != "signature" else pae + b" ")
    else:
        # ECDSA over the image manifest's SHA-256, as cosign signs a digest.
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
        signature = key.sign(digest if args.broken != "signature" else hashlib.sha256(digest).digest(),
                             ec.ECDSA(Prehashed(hashes.SHA256())))
    entry = store.rekor(signature, verifier, digest, args.broken, tree_size=2, dsse_payload=statement)
    # A tree of two: someone else's entry first, ours second.
    other = leaf_hash(b"another entry")
    ours = leaf_hash(entry["body_bytes"])
    root = hashlib.sha256(b"\x01" + other + ours).digest()
    proof_hashes = [other if args.broken != "proof" else leaf_hash(b"forged")]
    note = "%s\n2\n%s\n" % (ORIGIN, b64(root))
    note_key = new_key() if args.broken == "checkpoint" else store.rekor_key
    note_signature = sign(note_key, note.encode())
    hint = entry["log_id"][:4] if args.broken != "checkpoint" else hashlib.sha256(pub_der(note_key)).digest()[:4]
    checkpoint = note + "\n\u2014 %s %s\n" % (NOTE_KEY_NAME, b64(hint + note_signature))
    material = {"tlogEntries": [{
        "logIndex": str(entry["logIndex"]), "logId": {"keyId": b64(entry["log_id"])},
        "kindVersion": {"kind": "hashedrekord" if statement is None else "dsse", "version": "0.0.1"},
        "integratedTime": str(entry["integratedTime"]),
        "inclusionPromise": {"signedEntryTimestamp": b64(entry["set"])},
        "inclusionProof": {"logIndex": str(entry["logIndex"]), "rootHash": b64(root), "treeSize": "2",
                           "hashes": [b64(h) for h in proof_hashes], "checkpoint": {"envelope": checkpoint}},
        "canonicalizedBody": b64(entry["body_bytes"])}]}
    if args.no_tlog:
        material["tlogEntries"] = []
    if args.tsa or args.broken in ("tsa", "tsa-imprint"):
        material["timestampVerificationData"] = {"rfc3161Timestamps": [
            {"signedTimestamp": b64(timestamp(args.dir, signature, args.broken))}]}
    if cert is not None:
        material["certificate"] = {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))}
    else:
        material["publicKey"] = {"hint": b64(hashlib.sha256(pub_der(key)).digest())}
    out = {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "verificationMaterial": material}
    if statement is None:
        out["messageSignature"] = {"messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                                   "signature": b64(signature)}
    else:
        out["dsseEnvelope"] = {"payload": b64(statement), "payloadType": "application/vnd.in-toto+json",
                               "signatures": [{"sig": b64(signature), "keyid": ""}]}
    json.dump(out, sys.stdout)


def keypair(args):
    key = new_key()
    write(args.private, key_pem(key))
    write(args.public, pub_pem(key.public_key()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init")
    p.add_argument("dir")
    for command in ("legacy", "bundle"):
        p = sub.add_parser(command)
        p.add_argument("dir")
        p.add_argument("--identity")
        p.add_argument("--issuer")
        p.add_argument("--key")
        p.add_argument("--break", dest="broken", default="")
        p.add_argument("--no-tlog", action="store_true")
        if command == "legacy":
            p.add_argument("--payload", required=True)
        else:
            p.add_argument("--digest", required=True)
            p.add_argument("--predicate-type", default="")
            p.add_argument("--predicate")
            p.add_argument("--tsa", action="store_true")
    p = sub.add_parser("keypair")
    p.add_argument("private")
    p.add_argument("public")
    args = parser.parse_args()
    if args.command == "init":
        init(args.dir)
    elif args.command == "keypair":
        keypair(args)
    else:
        if not args.key and not (args.identity and args.issuer):
            parser.error("give --identity and --issuer, or --key")
        legacy(args) if args.command == "legacy" else bundle(args)


if __name__ == "__main__":
    main()
