// RFC 6962 / RFC 9162 Merkle tree hashing and proof verification, as rekor_py.merkle
// does it in C: leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right).
// The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 and are tested against
// the same vectors as the Python engine (tests/vectors/merkle).
import { sha256 } from "@noble/hashes/sha2.js";
import { equal } from "./bytes";

export const HASH_SIZE = 32;

export function leafHash(entry: Uint8Array): Uint8Array {
  const buf = new Uint8Array(entry.length + 1);
  buf.set(entry, 1);
  return sha256(buf);
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + 2 * HASH_SIZE);
  buf[0] = 1;
  buf.set(left, 1);
  buf.set(right, 1 + HASH_SIZE);
  return sha256(buf);
}

export class ProofError extends Error {}

function checkHashes(proof: Uint8Array[]): void {
  for (const h of proof) if (h.length !== HASH_SIZE) throw new ProofError("a proof hash is not 32 bytes");
}

/** The root an inclusion proof leads to (RFC 9162 2.1.3.2), or ProofError. */
export function rootFromInclusion(index: bigint, size: bigint, leaf: Uint8Array, proof: Uint8Array[]): Uint8Array {
  if (index < 0n || index >= size) throw new ProofError(`index ${index} is outside a tree of ${size}`);
  if (leaf.length !== HASH_SIZE) throw new ProofError("the leaf hash is not 32 bytes");
  checkHashes(proof);
  let fn = index;
  let sn = size - 1n;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new ProofError("the proof is longer than the tree is deep");
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError("the proof is shorter than the tree is deep");
  return r;
}

export function verifyInclusion(index: bigint, size: bigint, leaf: Uint8Array, proof: Uint8Array[], root: Uint8Array): void {
  if (!equal(rootFromInclusion(index, size, leaf, proof), root)) {
    throw new ProofError("the inclusion proof leads to another root");
  }
}

/** RFC 9162 2.1.4.2: that the tree of size2 (root2) extends the tree of size1 (root1). */
export function verifyConsistency(size1: bigint, size2: bigint, proof: Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  checkHashes(proof);
  // As in transparency-dev/merkle: nothing is proven from the empty tree (the caller skips it).
  if (size1 === 0n) throw new ProofError("no consistency proof starts from an empty tree");
  if (size1 > size2) throw new ProofError(`size ${size1} is beyond size ${size2}`);
  if (size1 === size2) {
    if (proof.length !== 0) throw new ProofError("a proof between equal sizes must be empty");
    if (!equal(root1, root2)) throw new ProofError("two different roots at the same size: a fork");
    return;
  }
  if (proof.length === 0) throw new ProofError("the consistency proof is empty");
  let path = proof;
  // When size1 is a power of two, its root is the first node of the path.
  if ((size1 & (size1 - 1n)) === 0n) path = [root1, ...proof];
  let fn = size1 - 1n;
  let sn = size2 - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new ProofError("the consistency proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofError("the consistency proof is too short");
  if (!equal(fr, root1)) throw new ProofError("the proof does not lead to the earlier root: a fork or a rewrite");
  if (!equal(sr, root2)) throw new ProofError("the proof does not lead to the current root");
}
