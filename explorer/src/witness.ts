// Witness cosignatures (c2sp.org/tlog-cosignature) on the log's C2SP checkpoint.  The
// cosigned note must itself be signed by the log's pinned key and be the verified head
// or a head it extends; each witness's key is pinned on first sight like the log's.
import * as api from "./api";
import { hex, unhex } from "./bytes";
import { fail, note, ok, reason, type Check } from "./checks";
import type { VerifiedLog } from "./logview";
import { ProofError, verifyConsistency } from "./merkle";
import { c2spLogVerifier, parseCheckpoint, parseNote, parseVkey, verifyNote, type Checkpoint, type Note } from "./note";
import { loadPins, savePins } from "./trust";

export interface WitnessRow {
  name: string;
  state: string;
  vkey: string;
}

const EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// A cosigned head older than this, behind a larger verified head, is shown as stale.
const STALE_S = 3600;

/** The tile API's origin for the active tree: "<host><tile prefix>", or that and
 * "/<tree ID>" for a tree a rotation started (log/c2sp.py). */
function expectedOrigins(log: VerifiedLog): string[] {
  const active = log.shards[log.shards.length - 1]!;
  const host = log.info.signedTreeHead.split(" ")[0] ?? "";
  const base = (host + api.getConfig().tilePrefix).replace(/\/+$/, "");
  return [base, `${base}/${active.treeID}`];
}

async function checkCosignedHead(log: VerifiedLog, parsed: Note, cp: Checkpoint): Promise<Check> {
  const what = "Cosigned checkpoint";
  const active = log.shards[log.shards.length - 1]!;
  if (!expectedOrigins(log).includes(cp.origin)) {
    return fail(what, `origin ${cp.origin} is not this log's tile API (${expectedOrigins(log).join(" or ")})`);
  }
  const signed = await verifyNote(parsed, c2spLogVerifier(cp.origin, active.key.key));
  if (!signed?.ok) return fail(what, "the checkpoint the witnesses cosigned is not signed by the log's pinned key");
  const size = Number(cp.size);
  if (size > active.size) return fail(what, `size ${size} is beyond the verified head (${active.size}): reload`);
  if (size === 0) {
    if (hex(cp.root) !== EMPTY_ROOT) throw new ProofError("an empty tree with a root other than the empty tree's");
  } else if (size === active.size) {
    if (hex(cp.root) !== active.rootHash) throw new ProofError(`another root at size ${size} than the verified head's: a fork`);
  } else {
    const p = await api.consistencyProof(size, active.size, active.treeID);
    verifyConsistency(cp.size, BigInt(active.size), p.hashes.map(unhex), cp.root, unhex(active.rootHash));
  }
  return ok(what, `size ${size}, signed by the log, ${size === active.size ? "the verified head" : `${active.size - size} entries behind the verified head, which extends it`}`);
}

export async function witnessChecks(log: VerifiedLog): Promise<{ checks: Check[]; rows: WitnessRow[] }> {
  const witnesses = api.getConfig().witnesses ?? [];
  if (witnesses.length === 0) return { checks: [], rows: [] };
  let parsed: Note;
  let cp: Checkpoint;
  try {
    parsed = parseNote(await api.c2spCheckpoint());
    cp = parseCheckpoint(parsed.text);
  } catch (e) {
    return { checks: [fail("Cosigned checkpoint", reason(e))], rows: [] };
  }
  let head: Check;
  try {
    head = await checkCosignedHead(log, parsed, cp);
  } catch (e) {
    head = fail("Cosigned checkpoint", reason(e));
  }
  const checks: Check[] = [head];
  const rows: WitnessRow[] = [];
  const pins = loadPins();
  pins.witnesses ??= {};
  for (const name of Object.keys(pins.witnesses)) {
    if (!witnesses.some((w) => w.name === name)) checks.push(note(`Witness ${name}`, "seen before, no longer in the log's policy"));
  }
  const behind = cp.size < BigInt(log.shards[log.shards.length - 1]!.size);
  for (const w of witnesses) {
    const what = `Witness ${w.name}`;
    const pinned = pins.witnesses[w.name];
    if (pinned === undefined) pins.witnesses[w.name] = w.vkey;
    else if (pinned !== w.vkey) {
      checks.push(fail(what, `its key is now ${w.vkey}, not the pinned ${pinned}`));
      rows.push({ name: w.name, state: "key changed", vkey: w.vkey });
      continue;
    }
    try {
      const result = await verifyNote(parsed, parseVkey(w.vkey));
      if (!result) checks.push(note(what, "has not cosigned this checkpoint"));
      else if (!result.ok) checks.push(fail(what, "its cosignature does not verify"));
      else {
        const age = Date.now() / 1000 - Number(result.time ?? 0n);
        const stale = age > STALE_S && behind;
        checks.push((pinned === undefined || stale ? note : ok)(what,
          `cosigned at ${new Date(Number(result.time ?? 0n) * 1000).toISOString()}` +
          (stale ? `, ${Math.round(age / 60)} minutes ago, and the log has grown since` : "") +
          (pinned === undefined ? " (key pinned on first sight)" : "")));
      }
      rows.push({ name: w.name, state: result ? (result.ok ? "cosigned" : "bad cosignature") : "not yet", vkey: w.vkey });
    } catch (e) {
      checks.push(fail(what, reason(e)));
    }
  }
  if (head.status === "ok") savePins(pins);
  return { checks, rows };
}
