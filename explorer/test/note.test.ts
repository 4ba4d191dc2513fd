import { strict as assert } from "node:assert";
import { test } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { b64encode, concat, hex, utf8 } from "../src/bytes";
import { parseCheckpoint, parseNote, parseVkey, rekorVerifier, verifyNote } from "../src/note";
import { forceEngine, VerifyingKey } from "../src/sig";

function ed25519Vkey(name: string, type: number): { vkey: string; secret: Uint8Array } {
  const secret = ed25519.utils.randomSecretKey();
  const pub = ed25519.getPublicKey(secret);
  const raw = concat(new Uint8Array([type]), pub);
  const id = sha256(concat(utf8(name), utf8("\n"), raw)).subarray(0, 4);
  return { vkey: `${name}+${hex(id)}+${b64encode(raw)}`, secret };
}

const text = "example.com/log\n42\n" + b64encode(sha256(utf8("root"))) + "\n";

for (const engine of ["WebCrypto", "noble"] as const) {
  test(`Ed25519 note signature (${engine})`, async () => {
    forceEngine(engine);
    // Many keys: some base64 keys hold "+", which the vkey parser must not split on.
    for (let i = 0; i < 20; i++) {
      const { vkey, secret } = ed25519Vkey("example.com/log", 0x01);
      const v = parseVkey(vkey);
      const sig = ed25519.sign(utf8(text), secret);
      const note = `${text}\n\u2014 example.com/log ${b64encode(concat(v.keyId, sig))}\n`;
      assert.equal((await verifyNote(parseNote(note), v))?.ok, true);
      const forged = note.replace("\n42\n", "\n43\n");
      assert.equal((await verifyNote(parseNote(forged), v))?.ok, false);
    }
  });

  test(`witness cosignature (${engine})`, async () => {
    forceEngine(engine);
    const { vkey, secret } = ed25519Vkey("witness.example", 0x04);
    const v = parseVkey(vkey);
    const t = 1700000000n;
    const msg = utf8(`cosignature/v1\ntime ${t}\n${text}`);
    const stamp = new Uint8Array(8);
    new DataView(stamp.buffer).setBigUint64(0, t);
    const line = b64encode(concat(v.keyId, stamp, ed25519.sign(msg, secret)));
    const result = await verifyNote(parseNote(`${text}\n\u2014 witness.example ${line}\n`), v);
    assert.deepEqual(result, { name: "witness.example", ok: true, time: t });
  });

  test(`Rekor ECDSA tree head (${engine})`, async () => {
    forceEngine(engine);
    const secret = p256.utils.randomSecretKey();
    const point = p256.getPublicKey(secret, false);
    // DER SubjectPublicKeyInfo of a P-256 point: the fixed prefix, then the point.
    const prefix = Uint8Array.from(Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"));
    const key = new VerifyingKey(concat(prefix, point));
    assert.equal(key.info.type, "ECDSA P-256");
    const v = rekorVerifier("rekor.example", key);
    const sig = p256.sign(utf8(text), secret, { format: "der", prehash: true });
    const note = `${text}\n\u2014 rekor.example ${b64encode(concat(v.keyId, sig))}\n`;
    assert.equal((await verifyNote(parseNote(note), v))?.ok, true);
    const cp = parseCheckpoint(parseNote(note).text);
    assert.equal(cp.size, 42n);
    assert.equal((await verifyNote(parseNote(note.replace("42", "41")), v))?.ok, false);
  });
}

test("malformed notes are refused", () => {
  assert.throws(() => parseNote("no blank line"));
  assert.throws(() => parseNote("a\n\nnot a signature line\n"));
  assert.throws(() => parseCheckpoint("origin\nnot a number\nAAAA\n"));
  assert.throws(() => parseVkey("name+00000000+AQ=="));
});

test("both engines refuse the same non-DER ECDSA encodings", async () => {
  const secret = p256.utils.randomSecretKey();
  const prefix = Uint8Array.from(Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"));
  const key = new VerifyingKey(concat(prefix, p256.getPublicKey(secret, false)));
  const msg = utf8("message");
  const der = p256.sign(msg, secret, { format: "der", prehash: true });
  // The same SEQUENCE with its length in long form (0x81 n): BER, not DER.
  const long = concat(Uint8Array.of(0x30, 0x81, der[1]!), der.subarray(2));
  // An INTEGER with a superfluous leading zero.
  const rLen = der[3]!;
  const r = der.subarray(4, 4 + rLen);
  const rest = der.subarray(4 + rLen);
  const padded = concat(Uint8Array.of(0x30, der[1]! + 1, 0x02, rLen + 1, 0x00), r, rest);
  for (const engine of ["WebCrypto", "noble"] as const) {
    forceEngine(engine);
    assert.equal(await key.verify(der, msg), true, engine);
    assert.equal(await key.verify(long, msg), false, `${engine}: long-form length`);
    if (!(r[0]! & 0x80)) assert.equal(await key.verify(padded, msg), false, `${engine}: leading zero`);
  }
});
