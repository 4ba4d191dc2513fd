// The log as the page verifies it, against a stand-in server whose heads are really
// signed: the shards' memory between visits (order, frozen shards, forks), and an
// entry's proof tied to the verified head.
import { strict as assert } from "node:assert";
import { test } from "node:test";
import { p256 } from "@noble/curves/nist.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { setConfig, type LogEntry } from "../src/api";
import { b64encode, concat, hex, utf8 } from "../src/bytes";
import { verifiedLog } from "../src/logview";
import { leafHash, nodeHash } from "../src/merkle";
import { checkEntry, overall } from "../src/verify";

// ---- a browser's storage and location -------------------------------------------
const store = new Map<string, string>();
Object.assign(globalThis, {
  localStorage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => store.set(k, v),
    removeItem: (k: string) => store.delete(k) },
  location: { origin: "http://log.test", pathname: "/" },
});

// ---- a log: a key, trees of leaves, signed heads, proofs --------------------------
const secret = p256.utils.randomSecretKey();
const spki = concat(Uint8Array.from(Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex")),
  p256.getPublicKey(secret, false));
const pem = `-----BEGIN PUBLIC KEY-----\n${b64encode(spki)}\n-----END PUBLIC KEY-----\n`;
const keyID = sha256(spki).subarray(0, 4);

function mth(l: Uint8Array[]): Uint8Array {
  if (l.length === 0) return sha256(new Uint8Array());
  if (l.length === 1) return l[0]!;
  let k = 1;
  while (k * 2 < l.length) k *= 2;
  return nodeHash(mth(l.slice(0, k)), mth(l.slice(k)));
}

function subproof(m: number, l: Uint8Array[], start: boolean): Uint8Array[] {
  if (m === l.length) return start ? [] : [mth(l)];
  let k = 1;
  while (k * 2 < l.length) k *= 2;
  return m <= k ? [...subproof(m, l.slice(0, k), start), mth(l.slice(k))]
    : [...subproof(m - k, l.slice(k), false), mth(l.slice(0, k))];
}

function head(treeID: string, size: number, root: Uint8Array): string {
  const text = `log.test - ${treeID}\n${size}\n${b64encode(root)}\n`;
  const sig = p256.sign(utf8(text), secret, { format: "der", prehash: true });
  return `${text}\n\u2014 log.test ${b64encode(concat(keyID, sig))}\n`;
}

const tree = (tag: string, n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => leafHash(utf8(`${tag} ${i}`)));
let shards: { id: string; leaves: Uint8Array[]; root?: Uint8Array }[] = [];

function info(): unknown {
  const heads = shards.map((s) => {
    const root = s.root ?? mth(s.leaves);
    return { treeID: s.id, treeSize: s.leaves.length, rootHash: hex(root), signedTreeHead: head(s.id, s.leaves.length, root) };
  });
  const active = heads[heads.length - 1]!;
  return { ...active, inactiveShards: heads.length > 1 ? heads.slice(0, -1) : null };
}

setConfig({ apiBase: "", tilePrefix: "", v2: false, explorerBase: "./" });
globalThis.fetch = (async (url: string) => {
  const u = new URL(url, "http://log.test");
  if (u.pathname === "/api/v1/log") return Response.json(info());
  if (u.pathname === "/api/v1/log/publicKey") return new Response(pem);
  if (u.pathname === "/api/v1/log/proof") {
    const s = shards.find((x) => x.id === u.searchParams.get("treeID"))!;
    const m = Number(u.searchParams.get("firstSize"));
    const n = Number(u.searchParams.get("lastSize"));
    return Response.json({ hashes: subproof(m, s.leaves.slice(0, n), true).map(hex), rootHash: hex(mth(s.leaves.slice(0, n))) });
  }
  return new Response("", { status: 404 });
}) as typeof fetch;

const status = async (): Promise<[string, string]> => {
  const log = await verifiedLog();
  const memory = log.checks.find((c) => c.what === "Consistency with your last visit")!;
  return [overall(log.checks), `${memory.status}: ${memory.detail}`];
};

test("the shards' memory between visits", async () => {
  shards = [{ id: "111", leaves: tree("a", 5) }, { id: "222", leaves: tree("b", 3) }];
  assert.equal((await status())[0], "warn"); // first visit
  assert.deepEqual((await status())[0], "ok");
  shards[1]!.leaves.push(...tree("b2", 4)); // the active tree grows
  assert.equal((await status())[0], "ok");
  // A tree put before the active one (every later index would move): red.
  shards = [shards[0]!, { id: "333", leaves: tree("c", 2) }, shards[1]!];
  const [s, why] = await status();
  assert.equal(s, "fail", why);
  assert.match(why, /order/);
  shards = [shards[0]!, shards[2]!];
  assert.equal((await status())[0], "ok");
  // A frozen shard rewritten, validly signed: red.
  const kept = shards[0]!.leaves;
  shards[0]!.leaves = tree("rewritten", 5);
  assert.match((await status())[1], /^fail: the frozen tree 111 changed/);
  shards[0]!.leaves = kept;
  // The active tree forked at a larger size: red, and not remembered.
  const honest = shards[1]!.leaves;
  shards[1]!.leaves = [...honest.slice(0, 3), ...tree("fork", 6)];
  assert.match((await status())[1], /^fail: tree 222/);
  shards[1]!.leaves = honest;
  assert.equal((await status())[0], "ok");
});

test("an entry's proof must be the verified head's or one it extends", async () => {
  store.clear();
  const leaves = tree("e", 6).map((_, i) => utf8(`body ${i}`));
  const hashes = leaves.map(leafHash);
  shards = [{ id: "444", leaves: hashes }];
  await status();
  const log = await verifiedLog();
  const entryAt = (size: number, root: Uint8Array, proofHashes: Uint8Array[]): LogEntry => ({
    uuid: hex(hashes[2]!), body: b64encode(leaves[2]!), integratedTime: 1, logID: hex(sha256(spki)), logIndex: 2,
    verification: {
      signedEntryTimestamp: b64encode(p256.sign(utf8(JSON.stringify({ body: b64encode(leaves[2]!), integratedTime: 1,
        logID: hex(sha256(spki)), logIndex: 2 })), secret, { format: "der", prehash: true })),
      inclusionProof: { logIndex: 2, treeSize: size, rootHash: hex(root), hashes: proofHashes.map(hex), checkpoint: head("444", size, root) },
    },
  });
  // Honest: proven at size 4, the verified head (6) extends it.
  const path4 = [hashes[3]!, mth(hashes.slice(0, 2))];
  assert.equal(overall(await checkEntry(entryAt(4, mth(hashes.slice(0, 4)), path4), log)), "ok");
  // A fork at the same size 4, validly signed, whose root the leaf also reaches: red,
  // though a proof from size 4 was verified a moment ago.
  const other = leafHash(utf8("forked"));
  const forkPath = [other, mth(hashes.slice(0, 2))];
  const forkRoot = nodeHash(mth(hashes.slice(0, 2)), nodeHash(hashes[2]!, other));
  const checks = await checkEntry(entryAt(4, forkRoot, forkPath), log);
  assert.deepEqual(checks.filter((c) => c.status === "fail").map((c) => c.what), ["Against the log's verified head"]);
});
