// Builds the explorer into ../rekor_py/explorer/static (what the Python package ships),
// or, with --tests, the unit tests into .test-build/ for `node --test`.
// esbuild is deterministic: the same sources give the same bytes.
import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

if (process.argv.includes("--tests")) {
  const out = join(here, ".test-build");
  rmSync(out, { recursive: true, force: true });
  const tests = readdirSync(join(here, "test")).filter((f) => f.endsWith(".test.ts"));
  await build({
    entryPoints: tests.map((f) => join(here, "test", f)),
    outdir: out,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
  });
} else {
  const out = join(here, "..", "rekor_py", "explorer", "static");
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(here, "src", "main.ts")],
    outfile: join(out, "explorer.js"),
    bundle: true,
    minify: true,
    format: "esm",
    target: ["chrome110", "firefox115", "safari16"],
    legalComments: "eof",
    logLevel: "warning",
  });
  cpSync(join(here, "src", "explorer.css"), join(out, "explorer.css"));
  cpSync(join(here, "src", "index.html"), join(out, "index.html"));
}
