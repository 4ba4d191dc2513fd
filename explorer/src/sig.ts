// Signature checks with WebCrypto where the page may use it, else with the noble
// libraries.  Browsers give `crypto.subtle` only to secure contexts (HTTPS, or
// localhost): an explorer opened over plain HTTP on another host still verifies,
// with audited pure-JS code, and says which engine it used.
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ecdsaDerToRaw, publicKeyInfo, type PublicKeyInfo } from "./der";

export type Engine = "WebCrypto" | "noble";

export function webCryptoAvailable(): boolean {
  return typeof globalThis.crypto !== "undefined" && globalThis.crypto.subtle !== undefined &&
    (typeof globalThis.isSecureContext === "undefined" || globalThis.isSecureContext);
}

let forced: Engine | null = null;
/** For tests: use one engine whatever the context. */
export function forceEngine(e: Engine | null): void {
  forced = e;
}

export function engine(): Engine {
  return forced ?? (webCryptoAvailable() ? "WebCrypto" : "noble");
}

export class SignatureError extends Error {}

/** A verifying key: an ECDSA P-256 or Ed25519 public key, from its DER SubjectPublicKeyInfo. */
export class VerifyingKey {
  readonly info: PublicKeyInfo;
  private cryptoKey: Promise<CryptoKey> | null = null;
  private noWebCrypto = false;

  constructor(readonly spki: Uint8Array) {
    this.info = publicKeyInfo(spki);
    if (this.info.type !== "ECDSA P-256" && this.info.type !== "Ed25519") {
      throw new SignatureError(`${this.info.type} keys are not supported (ECDSA P-256 and Ed25519 are)`);
    }
    // A small-order Ed25519 key (the identity, say) has signatures that verify on any
    // message: refused, since keys are pinned on first sight.
    if (this.isEd25519 && ed25519.Point.fromBytes(this.info.key).isSmallOrder()) {
      throw new SignatureError("a small-order Ed25519 key");
    }
  }

  static ed25519(raw: Uint8Array): VerifyingKey {
    if (raw.length !== 32) throw new SignatureError("an Ed25519 key is 32 bytes");
    const prefix = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    const spki = new Uint8Array(prefix.length + 32);
    spki.set(prefix);
    spki.set(raw, prefix.length);
    return new VerifyingKey(spki);
  }

  get isEd25519(): boolean {
    return this.info.type === "Ed25519";
  }

  /** SHA-256 of the DER public key, as hex: the fingerprint people compare. */
  fingerprint(): string {
    return Array.from(sha256(this.spki), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  /** Whether `sig` (DER for ECDSA, 64 bytes for Ed25519) signs `message`; never throws for a bad signature. */
  async verify(sig: Uint8Array, message: Uint8Array): Promise<boolean> {
    if (engine() === "WebCrypto" && !this.noWebCrypto) {
      try {
        return await this.verifyWebCrypto(sig, message);
      } catch (e) {
        // Browsers before Ed25519 in WebCrypto (Chrome 137, Firefox 129, Safari 17)
        // refuse the key; verify with noble instead of calling a good signature bad.
        if (!(e instanceof DOMException && e.name === "NotSupportedError")) return false;
        this.noWebCrypto = true;
      }
    }
    try {
      return this.verifyNoble(sig, message);
    } catch {
      return false;
    }
  }

  private async verifyWebCrypto(sig: Uint8Array, message: Uint8Array): Promise<boolean> {
    const subtle = globalThis.crypto.subtle;
    if (this.isEd25519) {
      this.cryptoKey ??= subtle.importKey("spki", this.spki as BufferSource, { name: "Ed25519" }, false, ["verify"]);
      return subtle.verify({ name: "Ed25519" }, await this.cryptoKey, sig as BufferSource, message as BufferSource);
    }
    this.cryptoKey ??= subtle.importKey("spki", this.spki as BufferSource, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    return subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await this.cryptoKey, ecdsaDerToRaw(sig, 32) as BufferSource,
      message as BufferSource);
  }

  private verifyNoble(sig: Uint8Array, message: Uint8Array): boolean {
    if (this.isEd25519) return ed25519.verify(sig, message, this.info.key);
    // Signers need not produce low-S signatures (Go's and OpenSSL's do not), so accept both.
    return p256.verify(sig, message, this.info.key, { format: "der", lowS: false, prehash: true });
  }
}
