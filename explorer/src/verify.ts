// What the explorer checks, each as a Check with a reason: the log's keys against the
// pinned ones, the signed tree head, the consistency with the last visit, and for an
// entry its leaf hash, its signed entry timestamp, its inclusion proof and the
// checkpoint that proof leads to.
import { sha256 } from "@noble/hashes/sha2.js";
import * as api from "./api";
import { b64decode, hex, pemDecode, unhex, utf8 } from "./bytes";
import { leafHash, ProofError, verifyConsistency, verifyInclusion } from "./merkle";
import { parseCheckpoint, parseNote, rekorVerifier, verifyNote, type Checkpoint } from "./note";
import { engine, VerifyingKey } from "./sig";
import { loadPins, savePins, type Pins } from "./trust";

export type Status = "ok" | "fail" | "warn";

export interface Check {
  what: string;
  status: Status;
  detail: string;
}

const ok = (what: string, detail: string): Check => ({ what, status: "ok", detail });
const fail = (what: string, detail: string): Check => ({ what, status: "fail", detail });

export function overall(checks: Check[]): Status {
  if (checks.some((c) => c.status === "fail")) return "fail";
  if (checks.some((c) => c.status === "warn")) return "warn";
  return "ok";
}

export interface LogKey {
  treeID: string;
  logID: string;
  pem: string;
  key: VerifyingKey;
  pinned: boolean;
}

export interface Keyring {
  keys: LogKey[];
  byLogID: Map<string, LogKey>;
  byTree: Map<string, LogKey>;
  checks: Check[];
}

const fetchedKeys = new Map<string, Promise<string>>();

/** The key of each shard, checked against the pins.  On the first visit every key is
 * pinned; later a key that is not pinned fails until the user accepts it. */
export async function loadKeyring(info: api.LogInfo, pins: Pins = loadPins()): Promise<Keyring> {
  const trees = [info.treeID, ...(info.inactiveShards ?? []).map((s) => s.treeID)];
  const firstVisit = Object.keys(pins.logKeys).length === 0;
  const keys = await Promise.all(trees.map(async (treeID): Promise<LogKey> => {
    // A tree's key never changes: fetched once per page session (the pin is re-read).
    let fetched = fetchedKeys.get(treeID);
    if (!fetched) {
      fetched = api.publicKey(treeID);
      fetchedKeys.set(treeID, fetched);
      fetched.catch(() => fetchedKeys.delete(treeID));
    }
    const pem = await fetched;
    const key = new VerifyingKey(pemDecode(pem, "PUBLIC KEY"));
    const logID = key.fingerprint();
    return { treeID, logID, pem, key, pinned: pins.logKeys[logID] !== undefined };
  }));
  const checks: Check[] = [];
  if (firstVisit) {
    for (const k of keys) pins.logKeys[k.logID] = k.pem;
    savePins(pins);
    checks.push({ what: "Log key", status: "warn",
      detail: `first visit: pinned ${keys.length} key(s); compare the fingerprint with the one your log's operator publishes` });
    for (const k of keys) k.pinned = true;
  } else {
    for (const k of keys) {
      checks.push(k.pinned ? ok("Log key", `tree ${k.treeID}: pinned key ${k.logID.slice(0, 16)}…`)
        : fail("Log key", `tree ${k.treeID} is signed by key ${k.logID.slice(0, 16)}…, which you have not pinned`));
    }
  }
  return { keys, byLogID: new Map(keys.map((k) => [k.logID, k])), byTree: new Map(keys.map((k) => [k.treeID, k])), checks };
}

export function trustKey(k: LogKey): void {
  const pins = loadPins();
  pins.logKeys[k.logID] = k.pem;
  savePins(pins);
}

/** A Rekor v1 signed tree head: its signature under the tree's key, and that it says
 * what the JSON beside it says. */
export async function checkTreeHead(note: string, key: LogKey | undefined, size: number, rootHex: string,
  what = "Checkpoint"): Promise<{ check: Check; checkpoint?: Checkpoint }> {
  if (!key) return { check: fail(what, "no key for this tree") };
  let checkpoint: Checkpoint;
  try {
    const parsed = parseNote(note);
    checkpoint = parseCheckpoint(parsed.text);
    const name = checkpoint.origin.split(" ")[0]!;
    const result = await verifyNote(parsed, rekorVerifier(name, key.key));
    if (!result) return { check: fail(what, `no signature by ${name} with the log's key`) };
    if (!result.ok) return { check: fail(what, `the signature of ${name} does not verify`) };
  } catch (e) {
    return { check: fail(what, `unreadable: ${String((e as Error).message ?? e)}`) };
  }
  if (checkpoint.size !== BigInt(size)) return { check: fail(what, `signed size ${checkpoint.size}, but the answer says ${size}`) };
  if (hex(checkpoint.root) !== rootHex) return { check: fail(what, "the signed root is not the root the answer gives") };
  return { check: ok(what, `size ${size} signed by the log's key (${engine()})`), checkpoint };
}

/** That the log's head extends the one this browser verified last time. */
export async function checkConsistency(info: api.LogInfo, headOk: boolean, trusted: boolean,
  pins: Pins = loadPins()): Promise<Check> {
  const what = "Consistency with your last visit";
  const seen = pins.lastHead;
  // Only a head signed by pinned keys becomes the one the next visit is held to.
  const remember = (): void => {
    if (!trusted) return;
    pins.lastHead = { treeID: info.treeID, size: info.treeSize, rootHash: info.rootHash };
    savePins(pins);
  };
  if (!headOk) return fail(what, "not checked: the current checkpoint did not verify");
  if (!seen) {
    remember();
    return { what, status: "warn", detail: `first visit: remembered size ${info.treeSize}` };
  }
  // The tree seen last may since have been frozen into an inactive shard.
  const shard = seen.treeID === info.treeID ? info : (info.inactiveShards ?? []).find((s) => s.treeID === seen.treeID);
  if (!shard) return fail(what, `the tree you saw last (${seen.treeID}) is not in this log any more`);
  try {
    if (seen.size > shard.treeSize) {
      return fail(what, `the log shrank: you saw size ${seen.size}, it now says ${shard.treeSize}`);
    }
    if (seen.size === shard.treeSize) {
      if (seen.rootHash !== shard.rootHash) throw new ProofError(`two different roots at size ${seen.size}: a fork`);
    } else {
      const p = seen.size > 0 ? await api.consistencyProof(seen.size, shard.treeSize, shard.treeID) : { hashes: [] };
      // Every tree extends the empty one: nothing to prove from size 0.
      if (seen.size > 0) verifyConsistency(BigInt(seen.size), BigInt(shard.treeSize), p.hashes.map(unhex),
        unhex(seen.rootHash), unhex(shard.rootHash));
    }
  } catch (e) {
    const reason = e instanceof ProofError || e instanceof api.ApiError ? e.message : String(e);
    return fail(what, `size ${seen.size} → ${shard.treeSize}: ${reason}`);
  }
  remember();
  return ok(what, seen.size === shard.treeSize ? `unchanged at size ${seen.size}`
    : `size ${seen.size} → ${shard.treeSize}: proof verified`);
}

/** Everything about one v1 entry that can be checked in the browser. */
export async function checkEntry(e: api.LogEntry, keyring: Keyring): Promise<Check[]> {
  const checks: Check[] = [];
  let body: Uint8Array;
  try {
    body = b64decode(e.body);
  } catch {
    return [fail("Body", "not base64")];
  }
  const leaf = leafHash(body);
  const uuidLeaf = e.uuid.slice(-64).toLowerCase();
  checks.push(hex(leaf) === uuidLeaf ? ok("Leaf hash", "the body hashes to the entry's UUID")
    : fail("Leaf hash", "the body does not hash to the entry's UUID"));
  const key = keyring.byLogID.get(e.logID);
  if (!key) {
    checks.push(fail("Log ID", `the entry names log ${e.logID.slice(0, 16)}…, none of this log's keys`));
    return checks;
  }
  if (!key.pinned) checks.push(fail("Log key", "the entry's key is not one you pinned"));
  const set = e.verification?.signedEntryTimestamp;
  if (!set) checks.push(fail("Signed entry timestamp", "missing"));
  else {
    // RFC 8785 canonical JSON of these four fields: keys sorted, integers and plain strings.
    const payload = JSON.stringify({ body: e.body, integratedTime: e.integratedTime, logID: e.logID, logIndex: e.logIndex });
    const good = await key.key.verify(b64decode(set), utf8(payload));
    checks.push(good ? ok("Signed entry timestamp", `signed by the log at ${new Date(e.integratedTime * 1000).toISOString()}`)
      : fail("Signed entry timestamp", "the signature does not verify"));
  }
  const p = e.verification?.inclusionProof;
  if (!p) {
    checks.push(fail("Inclusion proof", "missing"));
    return checks;
  }
  try {
    verifyInclusion(BigInt(p.logIndex), BigInt(p.treeSize), leaf, p.hashes.map(unhex), unhex(p.rootHash));
    checks.push(ok("Inclusion proof", `leaf ${p.logIndex} of ${p.treeSize}: ${p.hashes.length} hashes lead to the root`));
  } catch (err) {
    checks.push(fail("Inclusion proof", (err as Error).message));
  }
  const tree = keyring.keys.find((k) => k.logID === e.logID);
  const head = await checkTreeHead(p.checkpoint, tree, p.treeSize, p.rootHash, "Proof's checkpoint");
  checks.push(head.check);
  return checks;
}

/** SHA-256 of bytes, as hex (search by file, fingerprints). */
export const sha256Hex = (b: Uint8Array): string => hex(sha256(b));
