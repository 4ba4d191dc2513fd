import { strict as assert } from "node:assert";
import { test } from "node:test";
import { join } from "node:path";
import { b64decode, utf8 } from "../src/bytes";
import { leafHash, nodeHash, verifyConsistency, verifyInclusion } from "../src/merkle";
import { jsonFiles, VECTORS } from "./vectors";

const b64 = (v: unknown): Uint8Array => b64decode(String(v ?? ""));
const proof = (v: Record<string, unknown>): Uint8Array[] => ((v.proof as string[] | null) ?? []).map(b64);

const inclusion = jsonFiles(join(VECTORS, "merkle", "inclusion"));
const consistency = jsonFiles(join(VECTORS, "merkle", "consistency"));

test("the vectors are there", () => {
  assert.ok(inclusion.length > 20, `${inclusion.length} inclusion vectors`);
  assert.ok(consistency.length > 20, `${consistency.length} consistency vectors`);
  assert.ok(inclusion.some((v) => !v.value.wantErr) && inclusion.some((v) => v.value.wantErr));
});

for (const { name, value: v } of inclusion) {
  test(`inclusion ${name}`, () => {
    const run = () => verifyInclusion(BigInt(v.leafIdx as number), BigInt(v.treeSize as number),
      b64(v.leafHash), proof(v), b64(v.root));
    if (v.wantErr) assert.throws(run);
    else run();
  });
}

for (const { name, value: v } of consistency) {
  test(`consistency ${name}`, () => {
    const run = () => verifyConsistency(BigInt(v.size1 as number), BigInt(v.size2 as number),
      proof(v), b64(v.root1), b64(v.root2));
    if (v.wantErr) assert.throws(run);
    else run();
  });
}

test("RFC 6962 hashes of known values", () => {
  // SHA-256 of the empty leaf (0x00), as in RFC 6962's reference trees.
  assert.equal(Buffer.from(leafHash(new Uint8Array())).toString("hex"),
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  const a = leafHash(utf8("a"));
  const b = leafHash(utf8("b"));
  assert.notDeepEqual(nodeHash(a, b), nodeHash(b, a));
});
