// The log as this browser verified it: every shard's signed head under its pinned key,
// held against what the browser remembers from earlier visits.  Every page starts here,
// and an entry's proof is tied to these heads (verify.ts).
import * as api from "./api";
import { hex, unhex } from "./bytes";
import { fail, note, ok, reason, type Check } from "./checks";
import { loadKeyring, type Keyring, type LogKey } from "./keyring";
import { ProofError, verifyConsistency } from "./merkle";
import { parseCheckpoint, parseNote, rekorVerifier, verifyNote, type Checkpoint } from "./note";
import { engine } from "./sig";
import { loadPins, savePins, type Pins, type SeenShard } from "./trust";

export interface Shard {
  treeID: string;
  size: number;
  rootHash: string;
  /** The log-wide index of the shard's first entry. */
  offset: number;
  frozen: boolean;
  key: LogKey;
  /** Its signed head verified under its key. */
  headOk: boolean;
}

export interface VerifiedLog {
  info: api.LogInfo;
  keyring: Keyring;
  /** Oldest first; the last is the active tree. */
  shards: Shard[];
  checks: Check[];
  /** Entries across every shard: the virtual log's size. */
  total: number;
}

/** A Rekor v1 signed tree head: the log's signature under the tree's key, the origin
 * naming this tree, and the size and root the JSON beside it gives. */
export async function checkTreeHead(noteText: string, key: LogKey, treeID: string, size: number, rootHex: string,
  what = "Checkpoint"): Promise<{ check: Check; checkpoint?: Checkpoint }> {
  let checkpoint: Checkpoint;
  try {
    const parsed = parseNote(noteText);
    checkpoint = parseCheckpoint(parsed.text);
    const [name, dash, id, ...rest] = checkpoint.origin.split(" ");
    if (!name || dash !== "-" || id !== treeID || rest.length) {
      return { check: fail(what, `origin "${checkpoint.origin}" does not name tree ${treeID}`) };
    }
    const result = await verifyNote(parsed, rekorVerifier(name, key.key));
    if (!result) return { check: fail(what, `no signature by ${name} with the log's key`) };
    if (!result.ok) return { check: fail(what, `the signature of ${name} does not verify`) };
  } catch (e) {
    return { check: fail(what, `unreadable: ${reason(e)}`) };
  }
  if (checkpoint.size !== BigInt(size)) return { check: fail(what, `signed size ${checkpoint.size}, but the answer says ${size}`) };
  if (hex(checkpoint.root) !== rootHex) return { check: fail(what, "the signed root is not the root the answer gives") };
  return { check: ok(what, `size ${size} signed by the log's key (${engine()})`), checkpoint };
}

/** That `seen` (size, root) is a prefix of the tree `now` (RFC 9162 consistency). */
async function extends_(treeID: string, seen: { size: number; rootHash: string }, now: Shard): Promise<void> {
  if (seen.size > now.size) throw new ProofError(`the tree shrank: you saw size ${seen.size}, it now says ${now.size}`);
  if (seen.size === now.size) {
    if (seen.rootHash !== now.rootHash) throw new ProofError(`two different roots at size ${seen.size}: a fork`);
    return;
  }
  if (seen.size === 0) return; // every tree extends the empty one
  const p = await api.consistencyProof(seen.size, now.size, treeID);
  verifyConsistency(BigInt(seen.size), BigInt(now.size), p.hashes.map(unhex), unhex(seen.rootHash), unhex(now.rootHash));
}

/** The shards against the browser's memory: each remembered head is extended by its
 * tree's current head, a frozen shard never changes, and no shard disappears. */
async function checkMemory(shards: Shard[], pins: Pins): Promise<Check> {
  const what = "Consistency with your last visit";
  const seen = pins.shards ?? {};
  if (Object.keys(seen).length === 0) return note(what, "first visit: nothing remembered yet");
  const order = shards.map((s) => s.treeID);
  if (new Set(order).size !== order.length) return fail(what, "the log lists a tree twice");
  // The trees seen before keep their places (and so every entry its log-wide index):
  // new trees may only come after them.
  const before = pins.shardOrder ?? [];
  if (before.some((id, i) => order[i] !== id)) {
    return fail(what, `the log's trees are no longer in the order you saw (${before.join(", ")}): entries' indexes would move`);
  }
  const byID = new Map(shards.map((s) => [s.treeID, s]));
  const said: string[] = [];
  for (const [treeID, old] of Object.entries(seen)) {
    const now = byID.get(treeID);
    if (!now) return fail(what, `tree ${treeID}, which you saw, is not in this log any more`);
    if (old.frozen && (!now.frozen || old.size !== now.size || old.rootHash !== now.rootHash)) {
      return fail(what, `the frozen tree ${treeID} changed since your last visit (size ${old.size} → ${now.size})`);
    }
    try {
      await extends_(treeID, old, now);
    } catch (e) {
      return fail(what, `tree ${treeID}, size ${old.size} → ${now.size}: ${reason(e)}`);
    }
    if (!old.frozen) said.push(old.size === now.size ? `unchanged at size ${old.size}` : `size ${old.size} → ${now.size}: proof verified`);
  }
  const fresh = shards.filter((s) => !(s.treeID in seen)).map((s) => s.treeID);
  if (fresh.length) said.push(`new tree(s) since your last visit: ${fresh.join(", ")}`);
  return ok(what, said.join("; ") || "unchanged");
}

function remember(shards: Shard[], pins: Pins): void {
  pins.shards = Object.fromEntries(shards.map((s): [string, SeenShard] =>
    [s.treeID, { size: s.size, rootHash: s.rootHash, frozen: s.frozen }]));
  pins.shardOrder = shards.map((s) => s.treeID);
  savePins(pins);
}

/** The log's heads and shards, checked; every page starts here. */
export async function verifiedLog(): Promise<VerifiedLog> {
  const info = await api.logInfo();
  const heads = [...(info.inactiveShards ?? []), info];
  const keyring = await loadKeyring(heads.map((h) => h.treeID));
  const checks = [...keyring.checks];
  const shards: Shard[] = [];
  let offset = 0;
  for (const [i, head] of heads.entries()) {
    const frozen = i < heads.length - 1;
    const key = keyring.byTree.get(head.treeID)!;
    const what = frozen ? `Shard ${head.treeID} final checkpoint` : "Checkpoint";
    const { check } = await checkTreeHead(head.signedTreeHead, key, head.treeID, head.treeSize, head.rootHash, what);
    checks.push(check);
    shards.push({ treeID: head.treeID, size: head.treeSize, rootHash: head.rootHash, offset, frozen, key,
      headOk: check.status === "ok" });
    offset += head.treeSize;
  }
  const pins = loadPins();
  if (shards.every((s) => s.headOk)) {
    const memory = await checkMemory(shards, pins);
    checks.push(memory);
    // Only heads that all checked out, under pinned keys, are held against the next visit.
    if (memory.status !== "fail" && keyring.keys.every((k) => k.pinned)) remember(shards, pins);
  } else {
    checks.push(fail("Consistency with your last visit", "not checked: a checkpoint did not verify"));
  }
  return { info, keyring, shards, checks, total: offset };
}
