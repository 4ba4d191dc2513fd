// Reads the Merkle proof vectors the Python engine's tests read (tests/vectors/merkle).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export const VECTORS = join(process.cwd(), "..", "tests", "vectors");

export function jsonFiles(dir: string): { name: string; value: Record<string, unknown> }[] {
  const out: { name: string; value: Record<string, unknown> }[] = [];
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...jsonFiles(p).map((x) => ({ ...x, name: `${f}/${x.name}` })));
    else if (f.endsWith(".json")) out.push({ name: f, value: JSON.parse(readFileSync(p, "utf8")) });
  }
  return out;
}
