#!/usr/bin/env node
// Signs a file keylessly with sigstore-js (@sigstore/sign), the way a signing config
// tells it to: `bundleBuilderFromSigningConfig` picks the CA (a Fulcio), the
// transparency log (the newest service of an API version it speaks, up to Rekor v2)
// and the timestamp authority, and writes a Sigstore bundle.
//
//   node sign.mjs --trust-config CFG.json --identity-token JWT --artifact FILE \
//       --bundle OUT.json
//
// CFG is a ClientTrustConfig (its signingConfig is used).  Prints "OK" and the log
// entry's kind/version, or "FAIL: <reason>" on stderr and exits 1; usage errors exit 2.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import bundlePkg from '@sigstore/bundle';
import specsPkg from '@sigstore/protobuf-specs';
import signPkg from '@sigstore/sign';

const { bundleToJSON } = bundlePkg;
const { SigningConfig } = specsPkg;
const { bundleBuilderFromSigningConfig } = signPkg;

function usage(message) {
  process.stderr.write(`usage: ${message}\n`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      'trust-config': { type: 'string' },
      'identity-token': { type: 'string' },
      artifact: { type: 'string' },
      bundle: { type: 'string' },
    },
  }));
} catch (err) {
  usage(err.message);
}
for (const name of ['trust-config', 'identity-token', 'artifact', 'bundle']) {
  if (!values[name]) usage(`--${name} is required`);
}

async function main(o) {
  const config = JSON.parse(readFileSync(o['trust-config'], 'utf8'));
  const signingConfig = SigningConfig.fromJSON(config.signingConfig);
  const token = o['identity-token'];
  const builder = bundleBuilderFromSigningConfig({
    signingConfig,
    identityProvider: { getToken: async () => token },
    bundleType: 'messageSignature',
  });
  const bundle = await builder.create({ data: readFileSync(o.artifact) });
  const json = bundleToJSON(bundle);
  writeFileSync(o.bundle, JSON.stringify(json, null, 2));
  const entry = json.verificationMaterial.tlogEntries[0];
  return `OK sigstore-js signed: ${entry.kindVersion.kind} ${entry.kindVersion.version}, ` +
    `log index ${entry.logIndex}`;
}

main(values).then(
  (line) => process.stdout.write(`${line}\n`),
  (err) => {
    const cause = err.cause ? ` (${err.cause.message || err.cause})` : '';
    process.stderr.write(`FAIL: ${err.message}${cause}\n`);
    process.exit(1);
  },
);
