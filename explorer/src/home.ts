// The log's state: its checkpoint verified, consistency with the last visit, shards,
// witnesses, and growth over the last hours.
import * as api from "./api";
import { growthChart } from "./chart";
import { parseNote, parseVkey, verifyNote } from "./note";
import { forgetPins, loadPins } from "./trust";
import { h, facts, fill, fmt, mono, verdict, link, errorBox } from "./ui";
import { checkConsistency, checkTreeHead, loadKeyring, overall, trustKey, type Check, type Keyring } from "./verify";
import { v2Panel } from "./v2";

export interface VerifiedLog {
  info: api.LogInfo;
  keyring: Keyring;
  checks: Check[];
  /** Entries across every shard: the virtual log's size. */
  total: number;
}

/** The log's head and shards, checked; every page starts here. */
export async function verifiedLog(): Promise<VerifiedLog> {
  const info = await api.logInfo();
  const keyring = await loadKeyring(info);
  const checks = [...keyring.checks];
  const heads = [info, ...(info.inactiveShards ?? [])];
  let allHeads = true;
  for (const [i, head] of heads.entries()) {
    const what = i === 0 ? "Checkpoint" : `Shard ${head.treeID} final checkpoint`;
    const { check } = await checkTreeHead(head.signedTreeHead, keyring.byTree.get(head.treeID), head.treeSize, head.rootHash, what);
    checks.push(check);
    allHeads &&= check.status === "ok";
  }
  checks.push(await checkConsistency(info, allHeads, keyring.keys.every((k) => k.pinned)));
  const total = heads.reduce((n, s) => n + s.treeSize, 0);
  return { info, keyring, checks, total };
}

async function witnessChecks(): Promise<{ checks: Check[]; rows: HTMLElement[] }> {
  const witnesses = api.getConfig().witnesses ?? [];
  if (witnesses.length === 0) return { checks: [], rows: [] };
  const note = parseNote(await api.c2spCheckpoint());
  const checks: Check[] = [];
  const rows: HTMLElement[] = [];
  for (const w of witnesses) {
    let result;
    try {
      result = await verifyNote(note, parseVkey(w.vkey));
    } catch (e) {
      checks.push({ what: `Witness ${w.name}`, status: "fail", detail: String((e as Error).message) });
      continue;
    }
    if (!result) {
      checks.push({ what: `Witness ${w.name}`, status: "warn", detail: "has not cosigned this checkpoint" });
    } else {
      const when = result.time !== undefined ? new Date(Number(result.time) * 1000).toISOString() : "?";
      checks.push({ what: `Witness ${w.name}`, status: result.ok ? "ok" : "fail",
        detail: result.ok ? `cosigned at ${when}` : "its cosignature does not verify" });
    }
    rows.push(h("tr", null, h("td", null, w.name), h("td", null, result ? (result.ok ? "cosigned" : "bad cosignature") : "not yet"),
      h("td", null, mono(w.vkey))));
  }
  return { checks, rows };
}

export async function homePage(root: HTMLElement): Promise<void> {
  const log = await verifiedLog();
  const { info, keyring } = log;
  const witnessed = await witnessChecks().catch((e: Error) => ({
    checks: [{ what: "Witnesses", status: "fail" as const, detail: e.message }], rows: [] as HTMLElement[] }));
  const checks = [...log.checks, ...witnessed.checks];
  const untrusted = keyring.keys.filter((k) => !k.pinned);
  fill(root, 
    h("h1", null, "Log"),
    verdict("Log checkpoint", overall(checks), checks),
    untrusted.length ? h("p", null, h("button", { type: "button", onclick: () => {
      untrusted.forEach(trustKey);
      location.reload();
    } }, `Trust the ${untrusted.length} new key(s) shown above`)) : null,
    facts([
      ["Entries", h("span", { "data-testid": "tree-size" }, fmt(log.total))],
      ["Active tree", mono(info.treeID)],
      ["Its size", fmt(info.treeSize)],
      ["Root hash", mono(info.rootHash)],
      ["Latest entries", link("#/latest", "browse")],
    ]),
    h("h2", null, "Signed checkpoint"),
    h("pre", { class: "note", tabindex: 0 }, info.signedTreeHead),
    h("h2", null, "Growth"),
    h("div", { id: "growth" }, "Loading…"),
    h("h2", null, "Shards"),
    h("table", null,
      h("thead", null, h("tr", null, h("th", { scope: "col" }, "Tree ID"), h("th", { scope: "col" }, "State"),
        h("th", { scope: "col" }, "Size"), h("th", { scope: "col" }, "Key fingerprint (SHA-256)"))),
      h("tbody", null, ...[info, ...(info.inactiveShards ?? [])].map((s, i) => {
        const key = keyring.byTree.get(s.treeID);
        return h("tr", null, h("td", null, mono(s.treeID)), h("td", null, i === 0 ? "active" : "frozen"),
          h("td", null, fmt(s.treeSize)), h("td", null, mono(key?.logID ?? "?")));
      }))),
    witnessed.rows.length ? h("section", null, h("h2", null, "Witnesses"),
      h("table", null, h("thead", null, h("tr", null, h("th", { scope: "col" }, "Witness"),
        h("th", { scope: "col" }, "This checkpoint"), h("th", { scope: "col" }, "Key"))), h("tbody", null, ...witnessed.rows))) : null,
    h("h2", null, "What this browser remembers"),
    h("p", null, "The keys pinned on your first visit and the last checkpoint verified. Forget them only if the log's operator announced a new key."),
    facts([
      ["Pinned keys", h("ul", null, ...Object.keys(loadPins().logKeys).map((k) => h("li", null, mono(k))))],
      ["Last checkpoint", (() => {
        const s = loadPins().lastHead;
        return s ? `tree ${s.treeID}, size ${fmt(s.size)}` : "none";
      })()],
    ]),
    h("button", { type: "button", onclick: () => {
      forgetPins();
      location.reload();
    } }, "Forget pinned keys and checkpoints"),
    api.getConfig().v2 ? h("div", { id: "v2" }) : null,
  );
  const g = root.querySelector<HTMLElement>("#growth")!;
  api.growth(24).then((data) => g.replaceChildren(growthChart(data)))
    .catch((e: Error) => g.replaceChildren(errorBox(`growth: ${e.message}`)));
  const v2 = root.querySelector<HTMLElement>("#v2");
  if (v2) await v2Panel(v2);
}
