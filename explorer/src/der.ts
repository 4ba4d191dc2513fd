// A small DER reader: enough of X.509 (RFC 5280) to show a certificate and a public key,
// and to turn a DER ECDSA signature into the r||s form WebCrypto wants.  Lengths are
// checked against the buffer at every step, so a hostile certificate throws DerError.

export class DerError extends Error {}

export interface Tlv {
  tag: number;
  /** The whole element (tag, length and value). */
  raw: Uint8Array;
  value: Uint8Array;
}

export function readTlv(buf: Uint8Array, at = 0): Tlv & { end: number } {
  if (at + 2 > buf.length) throw new DerError("truncated DER");
  const tag = buf[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte DER tags are not used here");
  let len = buf[at + 1]!;
  let off = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || off + n > buf.length) throw new DerError("bad DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + i]!;
    off += n;
  }
  const end = off + len;
  if (end > buf.length) throw new DerError("DER length runs past the data");
  return { tag, raw: buf.subarray(at, end), value: buf.subarray(off, end), end };
}

/** The elements of a constructed value, in order. */
export function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let at = 0;
  while (at < t.value.length) {
    const c = readTlv(t.value, at);
    out.push(c);
    at = c.end;
  }
  return out;
}

function child(t: Tlv, i: number): Tlv {
  const c = children(t)[i];
  if (!c) throw new DerError("a DER element is missing");
  return c;
}

export function oid(t: Tlv): string {
  if (t.tag !== 0x06 || t.value.length === 0) throw new DerError("not an OBJECT IDENTIFIER");
  const v = t.value;
  const parts: number[] = [];
  let n = 0;
  for (const b of v) {
    n = n * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - 40 * a, ...parts].join(".");
}

const dec = new TextDecoder("utf-8", { fatal: false });

export function text(t: Tlv): string {
  if (t.tag === 0x1e) {
    // BMPString: UTF-16 big-endian.
    let s = "";
    for (let i = 0; i + 1 < t.value.length; i += 2) s += String.fromCharCode((t.value[i]! << 8) | t.value[i + 1]!);
    return s;
  }
  return dec.decode(t.value);
}

const NAME_ATTRS: Record<string, string> = {
  "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
  "2.5.4.11": "OU", "1.2.840.113549.1.9.1": "emailAddress", "2.5.4.5": "serialNumber",
};

export function name(t: Tlv): string {
  const parts: string[] = [];
  for (const rdn of children(t)) {
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      if (!type || !value) continue;
      const o = oid(type);
      parts.push(`${NAME_ATTRS[o] ?? o}=${text(value)}`);
    }
  }
  return parts.join(", ");
}

export const CURVES: Record<string, string> = {
  "1.2.840.10045.3.1.7": "P-256", "1.3.132.0.34": "P-384", "1.3.132.0.35": "P-521",
};

export interface PublicKeyInfo {
  /** "ECDSA P-256", "Ed25519", "RSA 2048", ... */
  type: string;
  algorithm: string;
  curve?: string;
  /** The subjectPublicKey bits (an EC point, a raw Ed25519 key, an RSAPublicKey). */
  key: Uint8Array;
  spki: Uint8Array;
}

export function publicKeyInfo(spki: Uint8Array): PublicKeyInfo {
  const top = readTlv(spki);
  if (top.tag !== 0x30) throw new DerError("a public key is a SEQUENCE");
  const [alg, bits] = children(top);
  if (!alg || !bits || bits.tag !== 0x03 || bits.value[0] !== 0) throw new DerError("bad SubjectPublicKeyInfo");
  const algOid = oid(child(alg, 0));
  const key = bits.value.subarray(1);
  const info: PublicKeyInfo = { type: algOid, algorithm: algOid, key, spki: top.raw };
  if (algOid === "1.2.840.10045.2.1") {
    const curve = CURVES[oid(child(alg, 1))] ?? oid(child(alg, 1));
    info.curve = curve;
    info.type = `ECDSA ${curve}`;
  } else if (algOid === "1.3.101.112") {
    info.type = "Ed25519";
  } else if (algOid === "1.2.840.113549.1.1.1") {
    const modulus = child(readTlv(key), 0).value;
    const bitsLen = (modulus.length - (modulus[0] === 0 ? 1 : 0)) * 8;
    info.type = `RSA ${bitsLen}`;
  }
  return info;
}

/** Whether `t`'s length was written in DER's one shortest form. */
function minimalLength(t: Tlv): boolean {
  const headerLength = t.raw.length - t.value.length;
  const n = t.value.length;
  return headerLength === (n < 0x80 ? 2 : n < 0x100 ? 3 : n < 0x10000 ? 4 : 5);
}

/** A DER ECDSA-Sig-Value as r||s, each padded to `size` bytes (WebCrypto's form).
 * Strict DER, as the noble engine reads it, so that both engines agree on every input:
 * shortest lengths, positive INTEGERs without superfluous leading zeros. */
export function ecdsaDerToRaw(sig: Uint8Array, size: number): Uint8Array {
  const seq = readTlv(sig);
  if (seq.tag !== 0x30 || seq.end !== sig.length || !minimalLength(seq)) throw new DerError("an ECDSA signature is one DER SEQUENCE");
  const ints = children(seq);
  if (ints.length !== 2) throw new DerError("an ECDSA signature holds two INTEGERs");
  const out = new Uint8Array(2 * size);
  ints.forEach((t, i) => {
    const v0 = t.value;
    if (t.tag !== 0x02 || !minimalLength(t) || v0.length === 0) throw new DerError("an ECDSA signature holds two DER INTEGERs");
    if (v0[0]! & 0x80) throw new DerError("a negative ECDSA signature value");
    if (v0.length > 1 && v0[0] === 0 && !(v0[1]! & 0x80)) throw new DerError("a superfluous leading zero in an ECDSA signature");
    const v = v0[0] === 0 ? v0.subarray(1) : v0;
    if (v.length > size) throw new DerError("an ECDSA signature value is too long");
    out.set(v, (i + 1) * size - v.length);
  });
  return out;
}

export interface Certificate {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  publicKey: PublicKeyInfo;
  sans: string[];
  /** Fulcio's OIDC extensions (1.3.6.1.4.1.57264.1.*) by name. */
  fulcio: [string, string][];
  der: Uint8Array;
}

const FULCIO: Record<string, string> = {
  "1": "Issuer (v1)", "2": "GitHub Workflow Trigger", "3": "GitHub Workflow SHA",
  "4": "GitHub Workflow Name", "5": "GitHub Workflow Repository", "6": "GitHub Workflow Ref",
  "8": "Issuer", "9": "Build Signer URI", "10": "Build Signer Digest", "11": "Runner Environment",
  "12": "Source Repository URI", "13": "Source Repository Digest", "14": "Source Repository Ref",
  "15": "Source Repository Identifier", "16": "Source Repository Owner URI",
  "17": "Source Repository Owner Identifier", "18": "Build Config URI", "19": "Build Config Digest",
  "20": "Build Trigger", "21": "Run Invocation URI", "22": "Source Repository Visibility At Signing",
};

function time(t: Tlv): string {
  const s = dec.decode(t.value);
  // UTCTime YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ.
  const full = t.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? "19" : "20") + s : s;
  return `${full.slice(0, 4)}-${full.slice(4, 6)}-${full.slice(6, 8)}T${full.slice(8, 10)}:${full.slice(10, 12)}:${full.slice(12, 14)}Z`;
}

function hexOf(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(":");
}

function generalNames(seq: Tlv): string[] {
  const out: string[] = [];
  for (const g of children(seq)) {
    const kind = g.tag & 0x1f;
    if (kind === 1) out.push(`email:${dec.decode(g.value)}`);
    else if (kind === 2) out.push(`DNS:${dec.decode(g.value)}`);
    else if (kind === 6) out.push(`URI:${dec.decode(g.value)}`);
    else if (kind === 7) out.push(`IP:${Array.from(g.value).join(".")}`);
    else if (kind === 0) {
      // otherName: Fulcio puts a username here (1.3.6.1.4.1.57264.1.7).
      const parts = children(g);
      const inner = parts[1] ? children(parts[1])[0] : undefined;
      out.push(`otherName:${inner ? text(inner) : "?"}`);
    }
  }
  return out;
}

function extensionText(value: Uint8Array): string {
  // Fulcio's newer extensions are DER UTF8Strings; the first ones were raw strings.
  try {
    const t = readTlv(value);
    if (t.end === value.length && (t.tag === 0x0c || t.tag === 0x13 || t.tag === 0x16)) return text(t);
  } catch {
    /* a raw string */
  }
  return dec.decode(value);
}

export function parseCertificate(der: Uint8Array): Certificate {
  const cert = readTlv(der);
  if (cert.tag !== 0x30) throw new DerError("a certificate is a SEQUENCE");
  const tbs = child(cert, 0);
  let fields = children(tbs);
  if (fields[0]?.tag === 0xa0) fields = fields.slice(1); // the version
  const [serial, , issuer, validity, subject, spki, ...rest] = fields;
  if (!serial || !issuer || !validity || !subject || !spki) throw new DerError("a certificate field is missing");
  const out: Certificate = {
    subject: name(subject), issuer: name(issuer), serial: hexOf(serial.value),
    notBefore: time(child(validity, 0)), notAfter: time(child(validity, 1)),
    publicKey: publicKeyInfo(spki.raw), sans: [], fulcio: [], der: cert.raw,
  };
  const exts = rest.find((t) => t.tag === 0xa3);
  if (exts) {
    for (const ext of children(child(exts, 0))) {
      const parts = children(ext);
      const id = oid(parts[0]!);
      const value = parts[parts.length - 1]!.value;
      if (id === "2.5.29.17") out.sans = generalNames(readTlv(value));
      else if (id.startsWith("1.3.6.1.4.1.57264.1.")) {
        const n = id.slice("1.3.6.1.4.1.57264.1.".length);
        out.fulcio.push([FULCIO[n] ?? id, extensionText(value)]);
      }
    }
  }
  return out;
}
