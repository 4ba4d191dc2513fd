// Proofs from C2SP tiles (c2sp.org/tlog-tiles), computed in the browser: the Rekor v2
// API serves no proofs for reading, so the explorer rebuilds an entry's inclusion proof
// from the hash tiles and checks it against the signed checkpoint.
import * as api from "./api";
import { nodeHash, HASH_SIZE } from "./merkle";

/** "x001/x234/067" for 1234067, as c2sp.org/tlog-tiles spells a tile index. */
export function tileIndexPath(n: bigint): string {
  const groups: string[] = [];
  let v = n;
  do {
    groups.unshift((v % 1000n).toString().padStart(3, "0"));
    v /= 1000n;
  } while (v > 0n);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

export class TileReader {
  private cache = new Map<string, Promise<Uint8Array>>();

  /** `base` is the tile API's root ("/api/v2"); `size` the verified checkpoint's. */
  constructor(private readonly base: string, private readonly size: bigint) {}

  private fetchOnce(path: string): Promise<Uint8Array> {
    let p = this.cache.get(path);
    if (!p) {
      p = api.getBytes(`${this.base}/${path}`);
      this.cache.set(path, p);
    }
    return p;
  }

  private width(level: number, index: bigint): number {
    const nodes = this.size >> BigInt(8 * level);
    const w = nodes - index * 256n;
    return Number(w > 256n ? 256n : w);
  }

  /** The hashes of a tile, as wide as the tree holds. */
  async tile(level: number, index: bigint): Promise<Uint8Array> {
    const w = this.width(level, index);
    if (w <= 0) throw new api.ApiError(`tile ${level}/${index} is beyond the tree`);
    const data = await this.fetchOnce(`tile/${level}/${tileIndexPath(index)}${w < 256 ? `.p/${w}` : ""}`);
    if (data.length !== w * HASH_SIZE) throw new api.ApiError(`tile ${level}/${index} has ${data.length} bytes, not ${w * HASH_SIZE}`);
    return data;
  }

  /** The canonical body of entry `i`, from its entry bundle. */
  async entry(i: bigint): Promise<Uint8Array> {
    const index = i >> 8n;
    const w = this.width(0, index);
    const data = await this.fetchOnce(`tile/entries/${tileIndexPath(index)}${w < 256 ? `.p/${w}` : ""}`);
    let at = 0;
    for (let k = 0n; at + 2 <= data.length; k++) {
      const len = (data[at]! << 8) | data[at + 1]!;
      if (at + 2 + len > data.length) break;
      if (k === (i & 255n)) return data.subarray(at + 2, at + 2 + len);
      at += 2 + len;
    }
    throw new api.ApiError(`entry ${i} is not in its bundle`);
  }

  /** The hash of the complete subtree of height `height` number `k`. */
  async node(height: number, k: bigint): Promise<Uint8Array> {
    const level = Math.floor(height / 8);
    const below = height % 8;
    // The 2^below nodes at height 8*level that this node covers, hashed up.
    const first = k << BigInt(below);
    const tile = await this.tile(level, first >> 8n);
    let hashes: Uint8Array[] = [];
    for (let j = 0; j < 1 << below; j++) {
      const at = Number((first & 255n) + BigInt(j)) * HASH_SIZE;
      hashes.push(tile.subarray(at, at + HASH_SIZE));
    }
    while (hashes.length > 1) {
      const up: Uint8Array[] = [];
      for (let j = 0; j < hashes.length; j += 2) up.push(nodeHash(hashes[j]!, hashes[j + 1]!));
      hashes = up;
    }
    return hashes[0]!;
  }

  /** MTH(D[a:b]) of RFC 6962 from tiles: aligned power-of-two ranges are read, the rest split. */
  async subtree(a: bigint, b: bigint): Promise<Uint8Array> {
    const n = b - a;
    if ((n & (n - 1n)) === 0n && a % n === 0n) {
      const height = n.toString(2).length - 1;
      return this.node(height, a >> BigInt(height));
    }
    const k = largestPowerBelow(n);
    return nodeHash(await this.subtree(a, a + k), await this.subtree(a + k, b));
  }

  /** RFC 6962 PATH(m, D[a:b]), bottom first, as verifiers take it. */
  async inclusionProof(m: bigint, a = 0n, b = this.size): Promise<Uint8Array[]> {
    if (b - a <= 1n) return [];
    const k = largestPowerBelow(b - a);
    if (m < a + k) return [...(await this.inclusionProof(m, a, a + k)), await this.subtree(a + k, b)];
    return [...(await this.inclusionProof(m, a + k, b)), await this.subtree(a, a + k)];
  }

  /** RFC 6962 PROOF(m, D[size]): the consistency proof from size m to this reader's
   * size, from this tree's tiles alone (one cache), for verifyConsistency. */
  async consistencyProof(m: bigint): Promise<Uint8Array[]> {
    if (m <= 0n || m > this.size) throw new api.ApiError(`no consistency proof from size ${m}`);
    return this.subproof(m, 0n, this.size, true);
  }

  /** SUBPROOF(m, D[a:b], start) of RFC 6962 section 2.1.2, m counted from a. */
  private async subproof(m: bigint, a: bigint, b: bigint, start: boolean): Promise<Uint8Array[]> {
    if (m === b - a) return start ? [] : [await this.subtree(a, b)];
    const k = largestPowerBelow(b - a);
    if (m <= k) return [...(await this.subproof(m, a, a + k, start)), await this.subtree(a + k, b)];
    return [...(await this.subproof(m - k, a + k, b, false)), await this.subtree(a, a + k)];
  }
}

/** The largest power of two smaller than n (n > 1). */
function largestPowerBelow(n: bigint): bigint {
  let k = 1n;
  while (k << 1n < n) k <<= 1n;
  return k;
}

