// The log's growth over the last hours: a small SVG line, with the same figures in a
// table for screen readers and keyboards.
import type { Growth } from "./api";
import { fmt, h } from "./ui";

const NS = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export function growthChart(g: Growth): HTMLElement {
  const pts = g.points;
  if (pts.length < 2) return h("p", null, "Not enough history yet.");
  const [w, ht, pad] = [640, 160, 36];
  const t0 = pts[0]!.time;
  const t1 = pts[pts.length - 1]!.time;
  const s0 = pts[0]!.size;
  const s1 = Math.max(pts[pts.length - 1]!.size, s0 + 1);
  const x = (t: number): number => pad + ((t - t0) / Math.max(t1 - t0, 1)) * (w - 2 * pad);
  const y = (s: number): number => ht - pad / 2 - ((s - s0) / (s1 - s0)) * (ht - pad);
  const added = pts[pts.length - 1]!.size - s0;
  const hours = Math.round((t1 - t0) / 3600);
  const chart = svg("svg", { viewBox: `0 0 ${w} ${ht}`, role: "img", class: "chart",
    "aria-label": `${fmt(added)} entries added in the last ${hours} hours` });
  chart.append(
    svg("line", { x1: pad, y1: ht - pad / 2, x2: w - pad, y2: ht - pad / 2, class: "axis" }),
    svg("polyline", { points: pts.map((p) => `${x(p.time).toFixed(1)},${y(p.size).toFixed(1)}`).join(" "), class: "line" }),
    svg("text", { x: pad, y: ht - 2, class: "label" }, `${hours} h ago`),
    svg("text", { x: w - pad, y: ht - 2, class: "label", "text-anchor": "end" }, "now"),
    svg("text", { x: 4, y: 14, class: "label" }, fmt(pts[pts.length - 1]!.size)),
  );
  const rows = pts.map((p) => h("tr", null, h("td", null, new Date(p.time * 1000).toISOString().slice(0, 16).replace("T", " ")),
    h("td", null, fmt(p.size))));
  return h("figure", null, chart as unknown as HTMLElement,
    h("figcaption", null, `${fmt(added)} entries in the last ${hours} hours (as the server counts them: not verified)`),
    h("details", null, h("summary", null, "As a table"),
      h("table", null, h("thead", null, h("tr", null, h("th", { scope: "col" }, "Hour (UTC)"), h("th", { scope: "col" }, "Entries"))),
        h("tbody", null, ...rows))));
}
