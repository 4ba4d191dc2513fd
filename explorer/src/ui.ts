// A few DOM helpers: the explorer uses no framework.  Text always goes in as text nodes
// (never innerHTML), so nothing an entry holds can run as markup.
import type { Check, Status } from "./verify";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

const LABEL: Record<Status, string> = { ok: "Verified", fail: "Failed", warn: "Note" };
const ICON: Record<Status, string> = { ok: "\u2714", fail: "\u2716", warn: "\u25B2" };

export function badge(status: Status, text = LABEL[status]): HTMLElement {
  return h("span", { class: `badge ${status}` }, h("span", { "aria-hidden": "true" }, ICON[status]), ` ${text}`);
}

/** The verdict and every check with its reason; `data-status` is what tests read. */
export function verdict(title: string, status: Status, checks: Check[]): HTMLElement {
  const headline = status === "ok" ? "verified in your browser" : status === "fail" ? "verification FAILED" : "verified, with notes";
  return h("section", { class: `verdict ${status}`, "data-status": status, "aria-live": "polite" },
    h("h2", null, badge(status), ` ${title}: ${headline}`),
    h("ul", { class: "checks" }, ...checks.map((c) =>
      h("li", { "data-status": c.status }, badge(c.status, ""), h("strong", null, `${c.what}: `), c.detail))));
}

export function facts(rows: [string, Child | Child[]][]): HTMLElement {
  return h("dl", { class: "facts" }, ...rows.flatMap(([k, v]) => {
    const dd = h("dd");
    append(dd, Array.isArray(v) ? v : [v]);
    return [h("dt", null, k), dd];
  }));
}

export const mono = (s: string): HTMLElement => h("code", { class: "mono" }, s);
export const link = (href: string, text: Child): HTMLElement => h("a", { href }, text);

export function loading(what: string): HTMLElement {
  return h("p", { class: "loading", role: "status" }, `Loading ${what}…`);
}

export function errorBox(message: string): HTMLElement {
  return h("p", { class: "error", role: "alert" }, message);
}

export function time(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isFinite(d.getTime()) ? d.toISOString().replace(".000Z", "Z") : `? (${String(seconds)})`;
}

export const fmt = (n: number | bigint): string => n.toLocaleString("en-US");

/** replaceChildren that skips null, undefined and false (optional sections). */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}
