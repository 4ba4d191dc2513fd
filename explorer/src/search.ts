// Search by artifact hash, email or public key (Rekor's index), or by a dropped file
// whose SHA-256 is computed here, in the browser; and the latest entries, paged.
// Every entry listed is verified before it is shown as such.
import { sha256 } from "@noble/hashes/sha2.js";
import * as api from "./api";
import { b64decode, b64encode, fromUtf8, hex } from "./bytes";
import { note, ok, type Check } from "./checks";
import { findKeys } from "./keys";
import { webCryptoAvailable } from "./sig";
import { verifiedLog, type VerifiedLog } from "./logview";
import { badge, errorBox, fill, fmt, h, link, loading, mono, time, verdict } from "./ui";
import { checkEntry, logCovering, overall } from "./verify";

/** Whether an entry answers the query: the server's index is not verifiable, but
 * what the entry's own body says is. */
type Matcher = (body: unknown) => Check;

function hashMatcher(digest: string): Matcher {
  const hexDigest = digest.replace(/^sha256:/, "");
  return (body) => JSON.stringify(body).includes(hexDigest) ? ok("Matches the search", "the body names this hash")
    // Rekor also indexes in-toto subjects, which live in the attestation, not the body.
    : note("Matches the search", "the body does not name this hash (an in-toto subject may)");
}

function emailMatcher(email: string): Matcher {
  const want = `email:${email.toLowerCase()}`;
  return (body) => findKeys(body).some((k) => k.certificate?.sans.some((s) => s.toLowerCase() === want))
    ? ok("Matches the search", "a certificate in the body names this email")
    : note("Matches the search", "no certificate in the body names this email");
}

function keyMatcher(keyFile: string): Matcher {
  const wanted = new Set(findKeys({ publicKey: keyFile }).map((k) => k.fingerprint).filter(Boolean));
  return (body) => findKeys(body).some((k) => wanted.has(k.fingerprint))
    ? ok("Matches the search", "the body holds this key")
    : note("Matches the search", wanted.size ? "the body does not hold this key" : "the key file could not be read here");
}

const PAGE = 20;

async function entryRows(entries: api.LogEntry[], log: VerifiedLog, match?: Matcher): Promise<HTMLElement> {
  const rows = await Promise.all(entries.map(async (e) => {
    let kind = "?";
    let body: unknown = null;
    try {
      body = JSON.parse(fromUtf8(b64decode(e.body)));
      const b = body as { kind?: string; apiVersion?: string };
      kind = `${b.kind} ${b.apiVersion}`;
    } catch {
      /* left as ? */
    }
    // The log's own failures and first-visit notes are part of each entry's verdict.
    const checks = [...await checkEntry(e, log), ...log.checks.filter((c) => c.status !== "ok")];
    if (match) checks.push(match(body));
    const status = overall(checks);
    const reasons = checks.filter((c) => c.status !== "ok").map((c) => `${c.what}: ${c.detail}`).join("; ");
    return h("tr", { "data-status": status }, h("td", null, link(`#/entry/${e.logIndex}`, String(e.logIndex))),
      h("td", null, kind), h("td", null, time(e.integratedTime)), h("td", { title: reasons }, badge(status), reasons ? ` ${reasons}` : ""),
      h("td", null, link(`#/entry/${e.uuid}`, mono(`${e.uuid.slice(-64, -48)}…`))));
  }));
  return h("table", { class: "entries" },
    h("thead", null, h("tr", null, ...["Index", "Kind", "Integrated", "Checks", "UUID"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, ...rows));
}

export async function latestPage(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const first = await verifiedLog();
  const page = Math.max(0, Number(params.get("page") ?? 0) || 0);
  const top = first.total - 1 - page * PAGE;
  const indexes: number[] = [];
  for (let i = top; i > top - PAGE && i >= 0; i--) indexes.push(i);
  const entries = indexes.length ? await api.retrieve({ logIndexes: indexes }) : [];
  const log = await logCovering(entries, first);
  const nav = h("nav", { "aria-label": "Pages" },
    page > 0 ? link(`#/latest?page=${page - 1}`, "Newer") : "", " ",
    top - PAGE >= 0 ? link(`#/latest?page=${page + 1}`, "Older") : "");
  fill(root, h("h1", null, "Latest entries"),
    verdict("Log checkpoint", overall(log.checks), log.checks),
    indexes.length ? h("p", null, `Entries ${fmt(Math.max(top - PAGE + 1, 0))} to ${fmt(top)} of ${fmt(log.total)}.`) : null,
    entries.length ? await entryRows(entries, log)
      : h("p", null, log.total === 0 ? "The log is empty." : `No entries on this page: the log holds ${fmt(log.total)}.`),
    nav);
}

function normaliseHash(s: string): string {
  const v = s.trim().toLowerCase();
  if (/^sha256:[0-9a-f]{64}$/.test(v)) return v;
  if (/^[0-9a-f]{64}$/.test(v)) return `sha256:${v}`;
  throw new Error("an artifact hash is 64 hex digits, optionally after sha256:");
}

/** SHA-256 of a file, in the browser: WebCrypto where it exists, else incrementally. */
async function fileHash(file: File): Promise<string> {
  if (webCryptoAvailable()) {
    return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer())));
  }
  const hasher = sha256.create();
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    hasher.update(value);
  }
  return hex(hasher.digest());
}

async function runSearch(out: HTMLElement, query: api.IndexQuery, label: string, match?: Matcher): Promise<void> {
  out.replaceChildren(loading("results"));
  try {
    const uuids = await api.searchIndex(query);
    const shown = uuids.slice(0, PAGE);
    const entries = shown.length ? await api.retrieve({ entryUUIDs: shown }) : [];
    const log = await logCovering(entries);
    const logNotes = log.checks.filter((c) => c.status !== "ok");
    fill(out,
      h("h2", null, `${fmt(uuids.length)} entr${uuids.length === 1 ? "y" : "ies"} for ${label}`),
      logNotes.length ? verdict("Log checkpoint", overall(logNotes), logNotes) : null,
      entries.length ? await entryRows(entries, log, match) : h("p", null, "Nothing found."),
      uuids.length > PAGE ? h("p", null, `The first ${PAGE} are shown.`) : "");
  } catch (e) {
    out.replaceChildren(errorBox((e as Error).message));
  }
}

export function searchPage(root: HTMLElement, params: URLSearchParams): void {
  const out = h("div", { id: "results", "aria-live": "polite" });
  const hashInput = h("input", { id: "hash", name: "hash", type: "text", spellcheck: false, autocomplete: "off",
    placeholder: "sha256:…", value: params.get("hash") ?? "" });
  const emailInput = h("input", { id: "email", name: "email", type: "email", value: params.get("email") ?? "" });
  const keyFile = h("input", { id: "key-file", type: "file" });
  const keyFormat = h("select", { id: "key-format" }, ...["x509", "pgp", "ssh", "minisign"].map((f) => h("option", { value: f }, f)));
  const artifact = h("input", { id: "artifact", type: "file" });
  const hashLine = h("p", { id: "artifact-hash", "aria-live": "polite" });

  const byArtifact = async (file: File): Promise<void> => {
    hashLine.textContent = `Hashing ${file.name} in your browser…`;
    const digest = await fileHash(file);
    hashLine.replaceChildren("SHA-256 of ", h("strong", null, file.name), ": ", mono(digest));
    await runSearch(out, { hash: `sha256:${digest}` }, file.name, hashMatcher(digest));
  };
  const drop = h("div", { class: "drop", tabindex: 0, role: "button", "aria-describedby": "drop-help",
    ondragover: (ev: Event) => ev.preventDefault(),
    ondrop: (ev: Event) => {
      ev.preventDefault();
      const f = (ev as DragEvent).dataTransfer?.files[0];
      if (f) void byArtifact(f);
    },
    onclick: () => artifact.click(),
    onkeydown: (ev: Event) => {
      if ((ev as KeyboardEvent).key === "Enter" || (ev as KeyboardEvent).key === " ") artifact.click();
    } }, "Drop a file here, or choose one");
  artifact.addEventListener("change", () => {
    const f = artifact.files?.[0];
    if (f) void byArtifact(f);
  });

  const form = (id: string, legend: string, fields: HTMLElement[], submit: () => Promise<void>): HTMLElement =>
    h("form", { id, onsubmit: (ev: Event) => {
      ev.preventDefault();
      void submit();
    } }, h("fieldset", null, h("legend", null, legend), ...fields, h("button", { type: "submit" }, "Search")));

  fill(root, 
    h("h1", null, "Search"),
    form("by-hash", "By artifact hash", [h("label", { for: "hash" }, "SHA-256"), hashInput], async () => {
      try {
        const v = normaliseHash(hashInput.value);
        await runSearch(out, { hash: v }, v, hashMatcher(v));
      } catch (e) {
        out.replaceChildren(errorBox((e as Error).message));
      }
    }),
    form("by-email", "By email (in a certificate)", [h("label", { for: "email" }, "Email"), emailInput],
      () => runSearch(out, { email: emailInput.value.trim() }, emailInput.value.trim(), emailMatcher(emailInput.value.trim()))),
    form("by-key", "By public key", [h("label", { for: "key-file" }, "Key file"), keyFile,
      h("label", { for: "key-format" }, "Format"), keyFormat], async () => {
      const f = keyFile.files?.[0];
      if (!f) {
        out.replaceChildren(errorBox("choose a key file first"));
        return;
      }
      const bytes = new Uint8Array(await f.arrayBuffer());
      await runSearch(out, { publicKey: { format: keyFormat.value, content: b64encode(bytes) } }, f.name,
        keyMatcher(fromUtf8(bytes)));
    }),
    h("fieldset", null, h("legend", null, "By file (hashed here, never uploaded)"),
      h("label", { for: "artifact" }, "Artifact"), artifact, drop,
      h("p", { id: "drop-help", class: "help" }, "The file's SHA-256 is computed in this page; only the hash is sent."),
      hashLine),
    out,
  );
  const hash = params.get("hash");
  const email = params.get("email");
  if (hash) {
    try {
      const v = normaliseHash(hash);
      void runSearch(out, { hash: v }, v, hashMatcher(v));
    } catch (e) {
      out.replaceChildren(errorBox((e as Error).message));
    }
  } else if (email) void runSearch(out, { email }, email, emailMatcher(email));
}
