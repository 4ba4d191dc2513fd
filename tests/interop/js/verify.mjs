#!/usr/bin/env node
// Verifies a Sigstore bundle offline with sigstore-js (@sigstore/verify), against a trusted
// root that names the transparency log (and, for certificates, the CA and CT log).
//
//   node verify.mjs --trusted-root TR.json --bundle B.json --artifact FILE \
//       (--key PUB.pem | --certificate-identity ID --certificate-oidc-issuer ISS) \
//       [--require-sct=false]
//
// Prints one line starting with "OK" (with the verified log index(es)) and exits 0, or
// "FAIL: <reason>" on stderr and exits 1; usage errors exit 2.  The same interface as the
// sigstore-go program in ../go.
//
// sigstore-js checks a DSSE envelope's signature but not which artifact its in-toto
// statement names; like sigstore-go, this program then requires the artifact's SHA-256
// among the statement's subjects.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import bundlePkg from '@sigstore/bundle';
import corePkg from '@sigstore/core';
import specsPkg from '@sigstore/protobuf-specs';
import verifyPkg from '@sigstore/verify';

const { bundleFromJSON } = bundlePkg;
const { crypto: sigstoreCrypto } = corePkg;
const { TrustedRoot } = specsPkg;
const { Verifier, toSignedEntity, toTrustMaterial } = verifyPkg;

function usage(message) {
  process.stderr.write(`usage: ${message}\n`);
  process.exit(2);
}

function parse(argv) {
  // Go's flag package accepts a bare boolean flag; parseArgs wants a value for a string.
  const args = argv.map((a) => (a === '--require-sct' ? '--require-sct=true' : a));
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        'trusted-root': { type: 'string' },
        bundle: { type: 'string' },
        artifact: { type: 'string' },
        key: { type: 'string' },
        'certificate-identity': { type: 'string' },
        'certificate-oidc-issuer': { type: 'string' },
        'require-sct': { type: 'string', default: 'true' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    usage(err.message);
  }
  const o = values;
  if (!o['trusted-root'] || !o.bundle) usage('--trusted-root and --bundle are required');
  if (!o.artifact) usage('--artifact is required');
  const identity = o['certificate-identity'];
  const issuer = o['certificate-oidc-issuer'];
  if (o.key && (identity || issuer)) {
    usage('--key excludes --certificate-identity/--certificate-oidc-issuer');
  }
  if (!o.key && !(identity && issuer)) {
    usage('give --key, or both --certificate-identity and --certificate-oidc-issuer');
  }
  if (!['true', 'false'].includes(o['require-sct'])) usage('--require-sct takes true or false');
  return { ...o, requireSct: o['require-sct'] === 'true' };
}

function readJSON(path, what) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${what}: ${err.message}`);
  }
}

// The artifact's SHA-256 must be one of the in-toto statement's subjects.
function checkStatementSubject(bundle, artifact) {
  const env = bundle.content.dsseEnvelope;
  let statement;
  try {
    statement = JSON.parse(env.payload.toString('utf8'));
  } catch (err) {
    throw new Error(`DSSE payload is not JSON: ${err.message}`);
  }
  const want = createHash('sha256').update(artifact).digest('hex');
  const subjects = Array.isArray(statement.subject) ? statement.subject : [];
  if (!subjects.some((s) => s && s.digest && s.digest.sha256 === want)) {
    throw new Error(`artifact sha256 ${want} is not a subject of the in-toto statement`);
  }
}

function run(o) {
  const trustedRoot = TrustedRoot.fromJSON(readJSON(o['trusted-root'], 'trusted root'));
  let bundle;
  try {
    bundle = bundleFromJSON(readJSON(o.bundle, 'bundle'));
  } catch (err) {
    throw new Error(`bundle: ${err.message}`);
  }
  let artifact;
  try {
    artifact = readFileSync(o.artifact);
  } catch (err) {
    throw new Error(`artifact: ${err.message}`);
  }

  let keys;
  if (o.key) {
    if (bundle.verificationMaterial.content.$case !== 'publicKey') {
      throw new Error('expected a bundle signed with a public key, not a certificate');
    }
    const publicKey = sigstoreCrypto.createPublicKey(readFileSync(o.key, 'utf8'));
    // Whatever key hint the bundle carries, the one key given is the key.
    keys = () => ({ publicKey, validFor: () => true });
  }
  const trustMaterial = toTrustMaterial(trustedRoot, keys);
  const verifier = new Verifier(trustMaterial, {
    tlogThreshold: 1,
    ctlogThreshold: o.key || !o.requireSct ? 0 : 1,
  });
  const entity = toSignedEntity(bundle, artifact);
  const policy = o.key
    ? undefined
    : {
        subjectAlternativeName: o['certificate-identity'],
        extensions: { issuer: o['certificate-oidc-issuer'] },
      };
  const signer = verifier.verify(entity, policy);
  if (bundle.content.$case === 'dsseEnvelope') checkStatementSubject(bundle, artifact);

  const indices = bundle.verificationMaterial.tlogEntries.map((e) => e.logIndex).join(',');
  const who = signer.identity
    ? `identity ${signer.identity.subjectAlternativeName} (${signer.identity.extensions.issuer})`
    : 'signed by the given key';
  return `OK sigstore-js: log index ${indices}, ${who}`;
}

const options = parse(process.argv.slice(2));
try {
  process.stdout.write(`${run(options)}\n`);
} catch (err) {
  const code = err && err.code ? `${err.code}: ` : '';
  process.stderr.write(`FAIL: ${code}${err && err.message ? err.message : err}\n`);
  process.exit(1);
}
