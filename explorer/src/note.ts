// Signed notes (c2sp.org/signed-note): checkpoints, and the cosignatures of witnesses
// (c2sp.org/tlog-cosignature).  A signature line is "— <name> base64(keyID || sig)".
import { sha256 } from "@noble/hashes/sha2.js";
import { b64decode, concat, equal, utf8 } from "./bytes";
import { VerifyingKey } from "./sig";

export class NoteError extends Error {}

export interface SignatureLine {
  name: string;
  keyId: Uint8Array;
  sig: Uint8Array;
}

export interface Note {
  /** The signed text: everything up to and including the newline before the blank line. */
  text: string;
  signatures: SignatureLine[];
}

export function parseNote(note: string): Note {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new NoteError("a signed note has a blank line before its signatures");
  const text = note.slice(0, split + 1);
  const signatures: SignatureLine[] = [];
  for (const line of note.slice(split + 2).split("\n")) {
    if (line === "") continue;
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new NoteError(`not a signature line: ${line.slice(0, 80)}`);
    const raw = b64decode(m[2]!);
    if (raw.length < 5) throw new NoteError("a signature line is too short");
    signatures.push({ name: m[1]!, keyId: raw.subarray(0, 4), sig: raw.subarray(4) });
  }
  return { text, signatures };
}

export interface Checkpoint {
  origin: string;
  size: bigint;
  root: Uint8Array;
  extensions: string[];
}

export function parseCheckpoint(text: string): Checkpoint {
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") throw new NoteError("a checkpoint has three lines");
  const [origin, size, root, ...rest] = lines;
  if (!origin || !/^[0-9]+$/.test(size ?? "")) throw new NoteError("bad checkpoint size");
  const rootBytes = b64decode(root ?? "");
  if (rootBytes.length !== 32) throw new NoteError("a checkpoint root is 32 bytes");
  return { origin, size: BigInt(size!), root: rootBytes, extensions: rest.slice(0, -1) };
}

const keyId = (material: Uint8Array): Uint8Array => sha256(material).subarray(0, 4);

/** The key and key ID that sign a note under `name`. */
export interface NoteVerifier {
  name: string;
  keyId: Uint8Array;
  key: VerifyingKey;
  /** 0x04 cosignatures sign "cosignature/v1\ntime T\n" + text, with T in the signature. */
  cosignature: boolean;
}

/** Rekor v1's tree head signer: the key ID is the first 4 bytes of SHA-256(DER public key). */
export function rekorVerifier(name: string, key: VerifyingKey): NoteVerifier {
  return { name, keyId: keyId(key.spki), key, cosignature: false };
}

/** The log key as it signs C2SP checkpoints (log/c2sp.py): ECDSA with Rekor's key ID,
 * Ed25519 as a c2sp.org/signed-note type 0x01 key. */
export function c2spLogVerifier(name: string, key: VerifyingKey): NoteVerifier {
  if (!key.isEd25519) return rekorVerifier(name, key);
  const raw = concat(new Uint8Array([0x01]), key.info.key);
  return { name, keyId: keyId(concat(utf8(name), utf8("\n"), raw)), key, cosignature: false };
}

/** A c2sp.org vkey: "<name>+<hex key ID>+base64(type || key)", Ed25519 (0x01),
 * ECDSA as Rekor signs (0x02, a DER public key) or a witness cosignature key (0x04). */
export function parseVkey(vkey: string): NoteVerifier {
  // The key's base64 may itself hold "+": only the first two separate fields.
  const m = /^([^+\s]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
  if (!m) throw new NoteError("a vkey is name+id+key");
  const [, name, id, b64] = m as unknown as [string, string, string, string];
  const raw = b64decode(b64);
  const type = raw[0];
  const body = raw.subarray(1);
  let v: NoteVerifier;
  if (type === 0x01 || type === 0x04) {
    const computed = keyId(concat(utf8(name), utf8("\n"), raw));
    v = { name, keyId: computed, key: VerifyingKey.ed25519(body), cosignature: type === 0x04 };
  } else if (type === 0x02) {
    const key = new VerifyingKey(body);
    v = rekorVerifier(name, key);
  } else {
    throw new NoteError(`vkey type ${type} is not supported`);
  }
  const given = id.toLowerCase();
  const want = Array.from(v.keyId, (b) => b.toString(16).padStart(2, "0")).join("");
  if (given !== want) throw new NoteError(`vkey ${name}: its key ID ${given} is not the key's (${want})`);
  return v;
}

export interface SignatureCheck {
  name: string;
  ok: boolean;
  /** For cosignatures: when the witness signed, in seconds since the epoch. */
  time?: bigint;
}

/** Each signature line `verifier` can check: whether it verifies. */
export async function verifyNote(note: Note, verifier: NoteVerifier): Promise<SignatureCheck | null> {
  for (const line of note.signatures) {
    if (line.name !== verifier.name || !equal(line.keyId, verifier.keyId)) continue;
    if (verifier.cosignature) {
      if (line.sig.length !== 72) return { name: line.name, ok: false };
      let t = 0n;
      for (const b of line.sig.subarray(0, 8)) t = (t << 8n) | BigInt(b);
      const msg = utf8(`cosignature/v1\ntime ${t}\n${note.text}`);
      return { name: line.name, ok: await verifier.key.verify(line.sig.subarray(8), msg), time: t };
    }
    return { name: line.name, ok: await verifier.key.verify(line.sig, utf8(note.text)) };
  }
  return null;
}
