// Everything about one v1 entry that the browser can check: its leaf hash, its signed
// entry timestamp, its inclusion proof, the checkpoint that proof leads to, and that
// this checkpoint is a head of the verified log (the same, or one it extends), with
// the entry at the log-wide index it claims.
import type * as api from "./api";
import { b64decode, hex, unhex, utf8 } from "./bytes";
import { fail, ok, reason, type Check } from "./checks";
import type { VerifiedLog } from "./logview";
import { checkTreeHead, verifiedLog } from "./logview";
import { consistencyProof } from "./api";
import { leafHash, verifyConsistency, verifyInclusion } from "./merkle";

export { overall, type Check, type Status } from "./checks";

/** The shard whose tree ID the proof's checkpoint origin names ("<host> - <tree ID>"). */
function proofTree(checkpoint: string): string | undefined {
  return /^[^\n ]+ - ([0-9]+)\n/.exec(checkpoint)?.[1];
}

// Consistency proofs already verified, per log view: "tree size→size".
const proven = new WeakMap<VerifiedLog, Set<string>>();

async function tiedToHead(log: VerifiedLog, treeID: string, size: number, rootHash: string): Promise<Check> {
  const what = "Against the log's verified head";
  const shard = log.shards.find((s) => s.treeID === treeID)!;
  if (!shard.headOk) return fail(what, `tree ${treeID}'s head did not verify`);
  if (size > shard.size) return fail(what, `the proof is for size ${size}, beyond the head this page verified (${shard.size}): reload`);
  if (size === shard.size) {
    return rootHash === shard.rootHash ? ok(what, `the proof's checkpoint is the verified head (size ${size})`)
      : fail(what, `another root at size ${size} than the verified head's: a fork`);
  }
  // The proof's root is part of the key: another root at the same size is another claim.
  const key = `${treeID} ${size} ${rootHash}→${shard.size} ${shard.rootHash}`;
  const done = proven.get(log) ?? new Set<string>();
  proven.set(log, done);
  if (!done.has(key)) {
    try {
      const p = await consistencyProof(size, shard.size, treeID);
      verifyConsistency(BigInt(size), BigInt(shard.size), p.hashes.map(unhex), unhex(rootHash), unhex(shard.rootHash));
      done.add(key);
    } catch (e) {
      return fail(what, `size ${size} → ${shard.size}: ${reason(e)}`);
    }
  }
  return ok(what, `the verified head (size ${shard.size}) extends the proof's (size ${size})`);
}

export async function checkEntry(e: api.LogEntry, log: VerifiedLog): Promise<Check[]> {
  const checks: Check[] = [];
  let body: Uint8Array;
  try {
    body = b64decode(e.body);
  } catch {
    return [fail("Body", "not base64")];
  }
  const leaf = leafHash(body);
  checks.push(hex(leaf) === e.uuid.slice(-64).toLowerCase() ? ok("Leaf hash", "the body hashes to the entry's UUID")
    : fail("Leaf hash", "the body does not hash to the entry's UUID"));
  const p = e.verification?.inclusionProof;
  const treeID = p ? proofTree(p.checkpoint) : undefined;
  const shard = log.shards.find((s) => s.treeID === treeID);
  if (!p || !treeID || !shard) {
    checks.push(fail("Inclusion proof", p ? `its checkpoint names tree ${treeID ?? "?"}, not a tree of this log` : "missing"));
    return checks;
  }
  if (shard.key.logID !== e.logID) {
    checks.push(fail("Log ID", `the entry names log ${e.logID.slice(0, 16)}…, not tree ${treeID}'s key`));
    return checks;
  }
  const set = e.verification?.signedEntryTimestamp;
  try {
    if (!set) throw new Error("missing");
    // RFC 8785 canonical JSON of these four fields: keys sorted, integers and plain strings.
    const payload = JSON.stringify({ body: e.body, integratedTime: e.integratedTime, logID: e.logID, logIndex: e.logIndex });
    const good = await shard.key.key.verify(b64decode(set), utf8(payload));
    checks.push(good ? ok("Signed entry timestamp", `signed by the log at ${new Date(e.integratedTime * 1000).toISOString()}`)
      : fail("Signed entry timestamp", "the signature does not verify"));
  } catch (err) {
    checks.push(fail("Signed entry timestamp", reason(err)));
  }
  checks.push(e.logIndex === shard.offset + p.logIndex ? ok("Log index", `leaf ${p.logIndex} of tree ${treeID}, which starts at ${shard.offset}`)
    : fail("Log index", `the entry claims index ${e.logIndex}, but its proof is for leaf ${p.logIndex} of a tree that starts at ${shard.offset}`));
  try {
    verifyInclusion(BigInt(p.logIndex), BigInt(p.treeSize), leaf, p.hashes.map(unhex), unhex(p.rootHash));
    checks.push(ok("Inclusion proof", `leaf ${p.logIndex} of ${p.treeSize}: ${p.hashes.length} hashes lead to the root`));
  } catch (err) {
    checks.push(fail("Inclusion proof", reason(err)));
  }
  const head = await checkTreeHead(p.checkpoint, shard.key, treeID, p.treeSize, p.rootHash, "Proof's checkpoint");
  checks.push(head.check);
  if (head.check.status === "ok") checks.push(await tiedToHead(log, treeID, p.treeSize, p.rootHash));
  return checks;
}

/** The verified log for checking `entries` (read before it): `log`, or a fresh one
 * when a proof is for a head newer than `log`'s (a write slipped in between). */
export async function logCovering(entries: api.LogEntry[], log?: VerifiedLog): Promise<VerifiedLog> {
  const first = log ?? await verifiedLog();
  return newerThan(first, entries) ? verifiedLog() : first;
}

function newerThan(log: VerifiedLog, entries: api.LogEntry[]): boolean {
  return entries.some((e) => {
    const p = e.verification?.inclusionProof;
    const shard = p && log.shards.find((s) => s.treeID === proofTree(p.checkpoint));
    return shard !== undefined && p !== undefined && p.treeSize > shard.size;
  });
}
