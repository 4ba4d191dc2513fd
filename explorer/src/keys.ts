// Recognising the keys and certificates inside an entry body, whatever its kind: PEM
// certificates and public keys (x509), armoured PGP keys, SSH keys, minisign keys, and
// the DER certificates and keys of Rekor v2 entries.
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { b64decode, b64encode, fromUtf8, hex } from "./bytes";
import { parseCertificate, publicKeyInfo, type Certificate } from "./der";

export interface KeyView {
  /** Where in the body it was found (a JSON path). */
  path: string;
  kind: string;
  type: string;
  fingerprint: string;
  certificate?: Certificate;
  error?: string;
}

const spkiFingerprint = (spki: Uint8Array): string => `SHA256:${hex(sha256(spki))}`;

function fromPem(pem: string, path: string): KeyView[] {
  const out: KeyView[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of pem.matchAll(re)) {
    const label = m[1]!;
    try {
      if (label === "PGP PUBLIC KEY BLOCK") {
        out.push(pgpKey(m[0], path));
        continue;
      }
      const der = b64decode(m[2]!.replace(/\s+/g, ""));
      if (label === "CERTIFICATE") out.push(certificateView(der, path));
      else if (label === "PUBLIC KEY") {
        const info = publicKeyInfo(der);
        out.push({ path, kind: "public key", type: info.type, fingerprint: spkiFingerprint(info.spki) });
      }
    } catch (e) {
      out.push({ path, kind: label.toLowerCase(), type: "?", fingerprint: "", error: String((e as Error).message) });
    }
  }
  return out;
}

function certificateView(der: Uint8Array, path: string): KeyView {
  const c = parseCertificate(der);
  return { path, kind: "certificate", type: c.publicKey.type, fingerprint: spkiFingerprint(c.publicKey.spki), certificate: c };
}

const PGP_ALGS: Record<number, string> = { 1: "RSA", 2: "RSA", 3: "RSA", 16: "ElGamal", 17: "DSA", 18: "ECDH", 19: "ECDSA", 22: "EdDSA", 27: "Ed25519" };

/** The primary key packet of an armoured OpenPGP key: its algorithm and v4 fingerprint. */
function pgpKey(armoured: string, path: string): KeyView {
  const lines = armoured.split(/\r?\n/);
  const blank = lines.findIndex((l) => l.trim() === "");
  const data = lines.slice(blank + 1).filter((l) => !l.startsWith("-----") && !l.startsWith("=")).join("");
  const b = b64decode(data);
  const tagByte = b[0] ?? 0;
  let len = 0;
  let at = 0;
  if (tagByte & 0x40) {
    // New format header.
    const l0 = b[1]!;
    if (l0 < 192) [len, at] = [l0, 2];
    else if (l0 < 224) [len, at] = [((l0 - 192) << 8) + b[2]! + 192, 3];
    else [len, at] = [(b[2]! << 24) | (b[3]! << 16) | (b[4]! << 8) | b[5]!, 6];
  } else {
    const lt = tagByte & 3;
    if (lt === 0) [len, at] = [b[1]!, 2];
    else if (lt === 1) [len, at] = [(b[1]! << 8) | b[2]!, 3];
    else [len, at] = [(b[1]! << 24) | (b[2]! << 16) | (b[3]! << 8) | b[4]!, 5];
  }
  const body = b.subarray(at, at + len);
  const version = body[0];
  const alg = PGP_ALGS[body[5] ?? 0] ?? `algorithm ${body[5]}`;
  if (version !== 4) return { path, kind: "PGP public key", type: `${alg} (v${version})`, fingerprint: "" };
  const pre = new Uint8Array([0x99, (len >> 8) & 0xff, len & 0xff]);
  const buf = new Uint8Array(pre.length + body.length);
  buf.set(pre);
  buf.set(body, pre.length);
  return { path, kind: "PGP public key", type: alg, fingerprint: hex(sha1(buf)).toUpperCase() };
}

function sshKey(line: string, path: string): KeyView {
  const [type, blob] = line.trim().split(/\s+/);
  const fp = b64encode(sha256(b64decode(blob ?? ""))).replace(/=+$/, "");
  return { path, kind: "SSH public key", type: type ?? "?", fingerprint: `SHA256:${fp}` };
}

function minisignKey(text: string, path: string): KeyView {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "" && !l.startsWith("untrusted comment:")) ?? "";
  const raw = b64decode(line.trim());
  // "Ed" || key ID (8 bytes, little-endian) || Ed25519 key: minisign prints the ID reversed.
  const id = hex(raw.subarray(2, 10).slice().reverse()).toUpperCase();
  return { path, kind: "minisign public key", type: "Ed25519", fingerprint: `key ID ${id}` };
}

function classifyString(s: string, path: string, parentKey: string, grandKey: string): KeyView[] {
  if (s.includes("-----BEGIN ")) return fromPem(s, path);
  if (/^(ssh-|ecdsa-sha2-|sk-)/.test(s)) return [sshKey(s, path)];
  if (s.startsWith("untrusted comment:")) return [minisignKey(s, path)];
  if (parentKey === "rawBytes") {
    const der = b64decode(s);
    if (grandKey === "x509Certificate" || grandKey === "certificates") return [certificateView(der, path)];
    if (grandKey === "publicKey") {
      const info = publicKeyInfo(der);
      return [{ path, kind: "public key", type: info.type, fingerprint: spkiFingerprint(info.spki) }];
    }
  }
  return [];
}

/** Every key or certificate in a decoded entry body (strings are tried as base64 too). */
export function findKeys(value: unknown, path = "", parentKey = "", grandKey = ""): KeyView[] {
  if (typeof value === "string") {
    try {
      const direct = classifyString(value, path, parentKey, grandKey);
      if (direct.length) return direct;
      if (value.length >= 40 && /^[A-Za-z0-9+/=]+$/.test(value) && ["content", "publicKey", "verifier"].includes(parentKey)) {
        return classifyString(fromUtf8(b64decode(value)), path, parentKey, grandKey);
      }
    } catch (e) {
      return [{ path, kind: "key", type: "?", fingerprint: "", error: String((e as Error).message) }];
    }
    return [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => findKeys(v, `${path}[${i}]`, parentKey, grandKey));
  if (value && typeof value === "object") {
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      findKeys(v, path ? `${path}.${k}` : k, k, parentKey));
  }
  return [];
}
