// The log's state: its checkpoint verified, consistency with the last visit, shards,
// witnesses, and growth over the last hours.
import * as api from "./api";
import { growthChart } from "./chart";
import { fail, overall } from "./checks";
import { trustKey } from "./keyring";
import { verifiedLog } from "./logview";
import { forgetPins, loadPins } from "./trust";
import { h, facts, fill, fmt, mono, verdict, link, errorBox } from "./ui";
import { v2Panel } from "./v2";
import { witnessChecks, type WitnessRow } from "./witness";

export async function homePage(root: HTMLElement): Promise<void> {
  const log = await verifiedLog();
  const { info, keyring } = log;
  const witnessed = await witnessChecks(log).catch((e: Error) => ({
    checks: [fail("Witnesses", e.message)], rows: [] as WitnessRow[] }));
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
      h("tbody", null, ...[...log.shards].reverse().map((s) => h("tr", null, h("td", null, mono(s.treeID)),
        h("td", null, s.frozen ? "frozen" : "active"), h("td", null, fmt(s.size)), h("td", null, mono(s.key.logID)))))),
    witnessed.rows.length ? h("section", null, h("h2", null, "Witnesses"),
      h("table", null, h("thead", null, h("tr", null, h("th", { scope: "col" }, "Witness"),
        h("th", { scope: "col" }, "This checkpoint"), h("th", { scope: "col" }, "Key"))),
        h("tbody", null, ...witnessed.rows.map((w) => h("tr", null, h("td", null, w.name), h("td", null, w.state),
          h("td", null, mono(w.vkey))))))) : null,
    h("h2", null, "What this browser remembers"),
    h("p", null, "The keys pinned on your first visit and the last checkpoint verified. Forget them only if the log's operator announced a new key."),
    facts([
      ["Pinned keys", h("ul", null, ...Object.keys(loadPins().logKeys).map((k) => h("li", null, mono(k))))],
      ["Last checkpoints", (() => {
        const seen = Object.entries(loadPins().shards ?? {});
        return seen.length ? seen.map(([id, s]) => `tree ${id}: size ${fmt(s.size)}`).join("; ") : "none";
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
