#!/usr/bin/env node
// sigstore-js as a verifier with the Sigstore conformance command contract,
// the independent side of verify-image's differential tests:
//
//   node verify.js --bundle F (--certificate-identity I --certificate-oidc-issuer U | --key K)
//                  [--trusted-root T] [--repeat N [--trust-once true]] FILE_OR_sha256:HEX
//
// It uses only sigstore-js's public API, offline: TrustedRoot.fromJSON ->
// toTrustMaterial -> new Verifier(...) -> verifier.verify(toSignedEntity(
// bundle, artifact), policy). Exit 0 verified; 1 rejected (the error on
// stderr); 2 bad usage, or a case this API cannot express (a message
// signature checked against only a digest: sigstore-js verifies the
// signature over the artifact's bytes). --repeat N runs the whole
// verification (reading the files included) N times in this process and
// prints the time of each run in milliseconds, one JSON array on stdout;
// with --trust-once true the Verifier (trusted root and keys) is made once
// before the runs, as a service verifying many bundles would hold it.
//
// Modules come from NODE_PATH (tests/sigstore-js/install.sh prints it).
'use strict';
const fs = require('fs');
const crypto = require('crypto');

function usage(message) {
  process.stderr.write(`verify.js: ${message}\n`);
  process.exit(2);
}

let bundleFromJSON, TrustedRoot, Verifier, toSignedEntity, toTrustMaterial;
try {
  ({ bundleFromJSON } = require('@sigstore/bundle'));
  ({ TrustedRoot } = require('@sigstore/protobuf-specs'));
  ({ Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify'));
} catch (error) {
  usage(`sigstore-js is not installed (NODE_PATH from tests/sigstore-js/install.sh): ${error.message}`);
}

function parseArgs(argv) {
  const flags = {};
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    if (i + 1 >= argv.length) usage(`${arg} needs a value`);
    flags[arg.slice(2)] = argv[++i];
  }
  const known = ['bundle', 'certificate-identity', 'certificate-oidc-issuer', 'key', 'trusted-root', 'repeat',
    'trust-once'];
  for (const name of Object.keys(flags)) if (!known.includes(name)) usage(`unknown option --${name}`);
  if (positional.length !== 1) usage('give exactly one FILE or sha256:HEX');
  if (!flags.bundle || !flags['trusted-root']) usage('--bundle and --trusted-root are required');
  const keyless = flags['certificate-identity'] && flags['certificate-oidc-issuer'];
  if (!keyless === !flags.key) usage('give --certificate-identity and --certificate-oidc-issuer, or --key');
  return { ...flags, artifact: positional[0] };
}

// The verifier of the trusted root (and --key); the policy it is asked with.
function makeVerifier(args) {
  const root = TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(args['trusted-root'], 'utf8')));
  let keys;
  let policy = {};
  if (args.key) {
    const publicKey = crypto.createPublicKey(fs.readFileSync(args.key));
    // The key given on the command line is the signer, whatever the hint.
    keys = () => ({ publicKey, validFor: () => true });
  } else {
    policy = {
      subjectAlternativeName: args['certificate-identity'],
      extensions: { issuer: args['certificate-oidc-issuer'] },
    };
  }
  return { verifier: new Verifier(toTrustMaterial(root, keys)), policy };
}

// One verification, from the bundle file to the verdict (the trusted root's
// files too unless a verifier is given); throws on rejection.
function verifyOnce(args, held) {
  const { verifier, policy } = held || makeVerifier(args);
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(args.bundle, 'utf8')));
  let artifact;
  if (/^sha256:[0-9a-f]{64}$/.test(args.artifact)) {
    if (bundle.content.$case === 'messageSignature') {
      usage('a message signature needs the artifact itself, not its digest, in sigstore-js');
    }
  } else {
    artifact = fs.readFileSync(args.artifact);
  }
  return verifier.verify(toSignedEntity(bundle, artifact), policy);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const repeat = args.repeat ? Number(args.repeat) : 0;
  try {
    if (repeat > 0) {
      const times = [];
      const held = args['trust-once'] === 'true' ? makeVerifier(args) : undefined;
      for (let i = 0; i < repeat; i++) {
        const start = process.hrtime.bigint();
        verifyOnce(args, held);
        times.push(Number(process.hrtime.bigint() - start) / 1e6);
      }
      process.stdout.write(JSON.stringify(times) + '\n');
    } else {
      verifyOnce(args);
      process.stdout.write('verified\n');
    }
  } catch (error) {
    const code = error.code ? `${error.code}: ` : '';
    process.stderr.write(`rejected: ${code}${error.message}\n`);
    process.exit(1);
  }
}

main();
