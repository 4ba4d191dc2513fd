// The Rekor v2 log: its Ed25519 checkpoint checked against the pinned vkey, and its
// entries read from entry bundles with their inclusion proofs rebuilt from tiles.
import * as api from "./api";
import { fromUtf8, hex, unhex } from "./bytes";
import { keyViews } from "./entry";
import { findKeys } from "./keys";
import { leafHash, ProofError, verifyConsistency, verifyInclusion } from "./merkle";
import { parseCheckpoint, parseNote, parseVkey, verifyNote, type Checkpoint } from "./note";
import { TileReader } from "./tiles";
import { loadPins, savePins } from "./trust";
import { facts, fill, fmt, h, link, mono, verdict } from "./ui";
import { overall, type Check } from "./verify";
import { engine } from "./sig";

const BASE = "/api/v2";

interface V2Head {
  checkpoint?: Checkpoint;
  /** Reads this checkpoint's tree: one cache, so every proof comes from one tree. */
  tiles?: TileReader;
  note: string;
  checks: Check[];
}

/** The v2 checkpoint, checked: its origin and signature under the pinned vkey, and its
 * consistency with the last visit, proven from its own tiles. */
export async function v2Head(): Promise<V2Head> {
  const [note, vkeys] = await Promise.all([api.getText(`${BASE}/checkpoint`), api.getText(`${BASE}/checkpoint.vkeys`)]);
  const pins = loadPins();
  const served = vkeys.split("\n").find((l) => l.trim() !== "") ?? "";
  const checks: Check[] = [];
  if (!pins.v2Vkey) {
    pins.v2Vkey = served;
    savePins(pins);
    checks.push({ what: "v2 log key", status: "warn", detail: `first visit: pinned ${served}` });
  } else if (pins.v2Vkey !== served) {
    checks.push({ what: "v2 log key", status: "fail", detail: `the log now names key ${served}, not the pinned ${pins.v2Vkey}` });
  }
  let checkpoint: Checkpoint;
  try {
    const parsed = parseNote(note);
    checkpoint = parseCheckpoint(parsed.text);
    const verifier = parseVkey(pins.v2Vkey!);
    // A C2SP log's origin is its key's name: a checkpoint of another log fails here.
    if (checkpoint.origin !== verifier.name) {
      checks.push({ what: "v2 checkpoint", status: "fail", detail: `origin ${checkpoint.origin} is not the pinned log's (${verifier.name})` });
      return { note, checks };
    }
    const result = await verifyNote(parsed, verifier);
    if (!result?.ok) {
      checks.push({ what: "v2 checkpoint", status: "fail", detail: result ? "its signature does not verify" : "not signed by the pinned key" });
      return { note, checks };
    }
    checks.push({ what: "v2 checkpoint", status: "ok", detail: `size ${checkpoint.size}, Ed25519 signature verified (${engine()})` });
  } catch (e) {
    checks.push({ what: "v2 checkpoint", status: "fail", detail: (e as Error).message });
    return { note, checks };
  }
  const tiles = new TileReader(BASE, checkpoint.size);
  const seen = pins.v2LastHead;
  const what = "v2 consistency with your last visit";
  try {
    if (seen && seen.size > 0) {
      const old = BigInt(seen.size);
      if (old > checkpoint.size) throw new ProofError(`the log shrank from ${seen.size} to ${checkpoint.size}`);
      // RFC 6962's consistency proof, built from the current tree's tiles and checked
      // against the root seen last time and the root signed now.
      const proof = old === checkpoint.size ? [] : await tiles.consistencyProof(old);
      verifyConsistency(old, checkpoint.size, proof, unhex(seen.rootHash), checkpoint.root);
    }
    checks.push({ what, status: seen ? "ok" : "warn",
      detail: seen ? `size ${seen.size} → ${checkpoint.size}: proof from tiles verified` : "first visit" });
    if (checks.every((c) => c.status !== "fail")) {
      pins.v2LastHead = { size: Number(checkpoint.size), rootHash: hex(checkpoint.root) };
      savePins(pins);
    }
  } catch (e) {
    checks.push({ what, status: "fail", detail: (e as Error).message });
  }
  return { checkpoint, tiles, note, checks };
}

export async function v2Panel(root: HTMLElement): Promise<void> {
  const head = await v2Head();
  const size = head.checkpoint?.size ?? 0n;
  fill(root, 
    h("h2", null, "Rekor v2 log"),
    verdict("v2 checkpoint", overall(head.checks), head.checks),
    facts([["Entries", fmt(size)], ["Origin", head.checkpoint?.origin ?? "?"],
      ["Newest entry", size > 0n ? link(`#/v2/entry/${size - 1n}`, `v2 entry ${size - 1n}`) : "none"]]),
    h("pre", { class: "note", tabindex: 0 }, head.note),
  );
}

export async function v2EntryPage(root: HTMLElement, id: string): Promise<void> {
  const head = await v2Head();
  const index = BigInt(id);
  const checks = [...head.checks];
  const cp = head.checkpoint;
  if (!cp) {
    fill(root, h("h1", null, `v2 entry ${id}`), verdict(`v2 entry ${id}`, "fail", checks));
    return;
  }
  if (index >= cp.size) throw new api.ApiError(`entry ${index} is beyond the v2 log (size ${cp.size})`, 404);
  const tiles = head.tiles!; // made with every verified checkpoint
  const body = await tiles.entry(index);
  try {
    const proof = await tiles.inclusionProof(index);
    verifyInclusion(index, cp.size, leafHash(body), proof, cp.root);
    checks.push({ what: "Inclusion proof", status: "ok", detail: `rebuilt from tiles: ${proof.length} hashes lead to the signed root` });
  } catch (e) {
    checks.push({ what: "Inclusion proof", status: "fail", detail: (e as Error).message });
  }
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(fromUtf8(body));
  } catch {
    /* shown raw */
  }
  fill(root, 
    h("h1", null, `v2 entry ${id}`),
    verdict(`v2 entry ${id}`, overall(checks), checks),
    facts([["Index", String(index)], ["Leaf hash", mono(hex(leafHash(body)))],
      ["Kind", parsed && typeof parsed === "object" ? `${(parsed as any).kind} ${(parsed as any).apiVersion}` : "?"],
      ["Neighbours", [index > 0n ? link(`#/v2/entry/${index - 1n}`, "previous") : "", " ",
        index + 1n < cp.size ? link(`#/v2/entry/${index + 1n}`, "next") : ""]]]),
    h("h2", null, "Keys and certificates"),
    keyViews(findKeys(parsed)),
    h("h2", null, "Body"),
    h("pre", { tabindex: 0, class: "body" }, parsed ? JSON.stringify(parsed, null, 2) : fromUtf8(body)),
  );
}
