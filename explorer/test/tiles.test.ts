// Proofs rebuilt from C2SP tiles: against an in-memory tree served through a stand-in
// for fetch, every inclusion and consistency proof the reader builds verifies, and a
// tile that changed between two sizes (a rewritten history) is caught.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { setConfig } from "../src/api";
import { concat, utf8 } from "../src/bytes";
import { leafHash, nodeHash, ProofError, verifyConsistency, verifyInclusion } from "../src/merkle";
import { TileReader, tileIndexPath } from "../src/tiles";

function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** fetch answering /t/tile/L/N[.p/W] from `leaves` (hashes at height 8L, as C2SP stores). */
function serve(leaves: Uint8Array[]): void {
  setConfig({ apiBase: "", tilePrefix: "", v2: true, explorerBase: "./" });
  globalThis.fetch = (async (url: string) => {
    const m = /^\/t\/tile\/(\d+)\/([x0-9/]+?)(?:\.p\/(\d+))?$/.exec(url);
    if (!m) return new Response("", { status: 404 });
    const level = Number(m[1]);
    const index = Number(m[2]!.replace(/x/g, "").replace(/\//g, ""));
    const width = m[3] ? Number(m[3]) : 256;
    const span = 256 ** level;
    const hashes: Uint8Array[] = [];
    for (let j = 0; j < width; j++) {
      const start = (index * 256 + j) * span;
      if (start + span > leaves.length) return new Response("", { status: 404 });
      hashes.push(mth(leaves.slice(start, start + span)));
    }
    return new Response(concat(...hashes) as BodyInit);
  }) as typeof fetch;
}

const leaves = Array.from({ length: 700 }, (_, i) => leafHash(utf8(`entry ${i}`)));

test("tile index paths", () => {
  assert.equal(tileIndexPath(0n), "000");
  assert.equal(tileIndexPath(1234067n), "x001/x234/067");
});

test("inclusion and consistency proofs from tiles verify", async () => {
  serve(leaves);
  for (const size of [1, 2, 255, 256, 257, 511, 512, 513, 700]) {
    const reader = new TileReader("/t", BigInt(size));
    const root = mth(leaves.slice(0, size));
    assert.deepEqual(await reader.subtree(0n, BigInt(size)), root);
    for (const i of [0, size - 1, Math.floor(size / 3)]) {
      verifyInclusion(BigInt(i), BigInt(size), leaves[i]!, await reader.inclusionProof(BigInt(i)), root);
    }
    for (const m of [1, 7, 128, 255, 256, 257, 300, size - 1, size]) {
      if (m < 1 || m > size) continue;
      const proof = await reader.consistencyProof(BigInt(m));
      verifyConsistency(BigInt(m), BigInt(size), proof, mth(leaves.slice(0, m)), root);
    }
  }
});

test("a rewritten history fails the consistency check", async () => {
  // The browser saw 300 entries of one history; the log now serves 600 of another.
  const seenRoot = mth(leaves.slice(0, 300));
  const other = Array.from({ length: 600 }, (_, i) => leafHash(utf8(`other ${i}`)));
  serve(other);
  const reader = new TileReader("/t", 600n);
  const proof = await reader.consistencyProof(300n);
  assert.throws(() => verifyConsistency(300n, 600n, proof, seenRoot, mth(other)), ProofError);
});
