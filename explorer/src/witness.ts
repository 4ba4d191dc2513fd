// Witness cosignatures (c2sp.org/tlog-cosignature) on the log's C2SP checkpoint.  The
// cosigned note must itself be signed by the log's pinned key and be the verified head
// or a head it extends; each witness's key is pinned on first sight like the log's.
import * as api from "./api";
import { hex, unhex } from "./bytes";
import { fail, note, ok, reason, type Check } from "./checks";
import type { VerifiedLog } from "./logview";
import { ProofError, verifyConsistency } from "./merkle";
import { parseCheckpoint, parseNote, parseVkey, rekorVerifier, verifyNote } from "./note";
import { loadPins, savePins } from "./trust";

export interface WitnessRow {
  name: string;
  state: string;
  vkey: string;
}

async function checkCosignedHead(log: VerifiedLog, text: string): Promise<Check> {
  const what = "Cosigned checkpoint";
  const active = log.shards[log.shards.length - 1]!;
  const parsed = parseNote(text);
  const cp = parseCheckpoint(parsed.text);
  const signed = await verifyNote(parsed, rekorVerifier(cp.origin, active.key.key));
  if (!signed?.ok) return fail(what, "the checkpoint the witnesses cosigned is not signed by the log's pinned key");
  const size = Number(cp.size);
  if (size > active.size) return fail(what, `size ${size} is beyond the verified head (${active.size}): reload`);
  if (size === active.size) {
    if (hex(cp.root) !== active.rootHash) throw new ProofError(`another root at size ${size} than the verified head's: a fork`);
  } else if (size > 0) {
    const p = await api.consistencyProof(size, active.size, active.treeID);
    verifyConsistency(cp.size, BigInt(active.size), p.hashes.map(unhex), cp.root, unhex(active.rootHash));
  }
  return ok(what, `size ${size}, signed by the log, ${size === active.size ? "the verified head" : "extended by the verified head"}`);
}

export async function witnessChecks(log: VerifiedLog): Promise<{ checks: Check[]; rows: WitnessRow[] }> {
  const witnesses = api.getConfig().witnesses ?? [];
  if (witnesses.length === 0) return { checks: [], rows: [] };
  const text = await api.c2spCheckpoint();
  let head: Check;
  try {
    head = await checkCosignedHead(log, text);
  } catch (e) {
    head = fail("Cosigned checkpoint", reason(e));
  }
  const checks: Check[] = [head];
  const rows: WitnessRow[] = [];
  const pins = loadPins();
  pins.witnesses ??= {};
  const parsed = parseNote(text);
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
      else checks.push((pinned === undefined ? note : ok)(what,
        `cosigned at ${new Date(Number(result.time ?? 0n) * 1000).toISOString()}${pinned === undefined ? " (key pinned on first sight)" : ""}`));
      rows.push({ name: w.name, state: result ? (result.ok ? "cosigned" : "bad cosignature") : "not yet", vkey: w.vkey });
    } catch (e) {
      checks.push(fail(what, reason(e)));
    }
  }
  if (head.status === "ok") savePins(pins);
  return { checks, rows };
}
