// A real entry of the public Rekor log (sigstore-python's test bundle, copied into
// tests/vectors/sigstore-python): the explorer's entry checks pass under the log's
// published key, and fail when any part is changed.
import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { LogEntry } from "../src/api";
import { b64decode, hex } from "../src/bytes";
import { leafHash } from "../src/merkle";
import { forceEngine, VerifyingKey } from "../src/sig";
import type { LogKey } from "../src/keyring";
import type { VerifiedLog } from "../src/logview";
import { checkEntry, overall } from "../src/verify";
import { VECTORS } from "./vectors";

const dir = join(VECTORS, "sigstore-python");
const bundle = JSON.parse(readFileSync(join(dir, "bundle_v3_github.whl.sigstore"), "utf8"));
const root = JSON.parse(readFileSync(join(dir, "trusted_root.production.json"), "utf8"));
const t = bundle.verificationMaterial.tlogEntries[0];
const tlog = root.tlogs.find((l: any) => l.logId.keyId === t.logId.keyId);

const TREE = "2605736670972794746"; // the tree the checkpoint's origin names

/** The log as a page would have verified it: one shard whose head is the proof's. */
function log(rootHash = hex(b64decode(t.inclusionProof.rootHash))): VerifiedLog {
  const key = new VerifyingKey(b64decode(tlog.publicKey.rawBytes));
  const k: LogKey = { treeID: TREE, logID: key.fingerprint(), pem: "", key, pinned: true };
  const size = Number(t.inclusionProof.treeSize);
  const offset = Number(t.logIndex) - Number(t.inclusionProof.logIndex); // earlier shards
  return {
    info: { rootHash, signedTreeHead: "", treeID: TREE, treeSize: size },
    keyring: { keys: [k], byTree: new Map([[TREE, k]]), checks: [] },
    shards: [{ treeID: TREE, size, rootHash, offset, frozen: false, key: k, headOk: true }],
    checks: [], total: offset + size,
  };
}

function entry(): LogEntry {
  const body = b64decode(t.canonicalizedBody);
  return {
    uuid: hex(leafHash(body)), body: t.canonicalizedBody, integratedTime: Number(t.integratedTime),
    logID: hex(b64decode(t.logId.keyId)), logIndex: Number(t.logIndex),
    verification: {
      signedEntryTimestamp: t.inclusionPromise.signedEntryTimestamp,
      inclusionProof: {
        logIndex: Number(t.inclusionProof.logIndex), treeSize: Number(t.inclusionProof.treeSize),
        rootHash: hex(b64decode(t.inclusionProof.rootHash)),
        hashes: t.inclusionProof.hashes.map((h: string) => hex(b64decode(h))),
        checkpoint: t.inclusionProof.checkpoint.envelope,
      },
    },
  };
}

for (const engine of ["WebCrypto", "noble"] as const) {
  test(`a public Rekor entry verifies (${engine})`, async () => {
    forceEngine(engine);
    const checks = await checkEntry(entry(), log());
    assert.equal(overall(checks), "ok", JSON.stringify(checks));
    assert.deepEqual(checks.map((c) => c.what), ["Leaf hash", "Signed entry timestamp", "Log index",
      "Inclusion proof", "Proof's checkpoint", "Against the log's verified head"]);
  });

  test(`each change to it is caught (${engine})`, async () => {
    forceEngine(engine);
    const cases: [string, (e: LogEntry) => void][] = [
      ["Signed entry timestamp", (e) => { e.integratedTime += 1; }],
      ["Signed entry timestamp", (e) => { e.logIndex += 1; }],
      ["Inclusion proof", (e) => { e.verification!.inclusionProof!.hashes[3] = "00".repeat(32); }],
      ["Inclusion proof", (e) => { e.verification!.inclusionProof!.logIndex += 1; }],
      ["Log index", (e) => { e.verification!.inclusionProof!.logIndex += 1; }],
      ["Proof's checkpoint", (e) => {
        const p = e.verification!.inclusionProof!;
        p.checkpoint = p.checkpoint.replace(`\n${p.treeSize}\n`, `\n${p.treeSize + 1}\n`);
      }],
      ["Leaf hash", (e) => { e.uuid = "00".repeat(32); }],
    ];
    for (const [what, change] of cases) {
      const e = entry();
      change(e);
      const failed = (await checkEntry(e, log())).filter((c) => c.status === "fail").map((c) => c.what);
      assert.ok(failed.includes(what), `${what}: ${failed}`);
    }
    // A head this page verified with another root at the proof's size: a split view.
    const forked = await checkEntry(entry(), log("11".repeat(32)));
    assert.deepEqual(forked.filter((c) => c.status === "fail").map((c) => c.what), ["Against the log's verified head"]);
  });
}
