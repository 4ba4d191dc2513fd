// One entry, by log index or UUID: its body decoded for its kind, the keys and
// certificates in it, and every check the browser can make.
import * as api from "./api";
import { b64decode, fromUtf8 } from "./bytes";
import { sha256 } from "@noble/hashes/sha2.js";
import { hex } from "./bytes";
import { note, ok, type Check } from "./checks";
import { findKeys, type KeyView } from "./keys";
import { facts, fill, h, link, mono, time, verdict } from "./ui";
import { checkEntry, logCovering, overall } from "./verify";

/** The fields worth a line of their own, per kind; the whole body is shown below them. */
function summary(body: Record<string, any>): [string, string][] {
  const spec = body.spec ?? {};
  const rows: [string, string][] = [["Kind", `${body.kind} ${body.apiVersion}`]];
  const add = (k: string, v: unknown): void => {
    if (typeof v === "string" && v) rows.push([k, v]);
  };
  switch (body.kind) {
    case "hashedrekord":
    case "rekord":
      add("Artifact hash", spec.data?.hash ? `${spec.data.hash.algorithm}:${spec.data.hash.value}` : undefined);
      add("Signature format", spec.signature?.format ?? (body.kind === "hashedrekord" ? "x509" : undefined));
      add("Signature", spec.signature?.content);
      break;
    case "intoto":
      add("Envelope hash", spec.content?.hash ? `${spec.content.hash.algorithm}:${spec.content.hash.value}` : undefined);
      add("Payload hash", spec.content?.payloadHash ? `${spec.content.payloadHash.algorithm}:${spec.content.payloadHash.value}` : undefined);
      add("Payload type", spec.content?.envelope?.payloadType);
      break;
    case "dsse":
      add("Envelope hash", spec.envelopeHash ? `${spec.envelopeHash.algorithm}:${spec.envelopeHash.value}` : undefined);
      add("Payload hash", spec.payloadHash ? `${spec.payloadHash.algorithm}:${spec.payloadHash.value}` : undefined);
      add("Signatures", Array.isArray(spec.signatures) ? String(spec.signatures.length) : undefined);
      break;
    default:
      break;
  }
  return rows;
}

export function keyViews(keys: KeyView[]): HTMLElement {
  if (keys.length === 0) return h("p", null, "No key or certificate found in the body.");
  return h("div", { class: "keys" }, ...keys.map((k) => {
    const rows: [string, any][] = [["Found at", mono(k.path)], ["What", k.kind], ["Key type", k.type],
      ["Fingerprint", mono(k.fingerprint)]];
    if (k.error) rows.push(["Could not read it", k.error]);
    const c = k.certificate;
    if (c) {
      rows.push(["Subject", c.subject || "(empty)"], ["Subject alternative names", c.sans.join(", ") || "(none)"],
        ["Issuer", c.issuer], ["Valid", `${c.notBefore} to ${c.notAfter}`], ["Serial", mono(c.serial)]);
      for (const [name, value] of c.fulcio) rows.push([name, value]);
    }
    return h("section", { class: "key" }, facts(rows));
  }));
}

/** The stored attestation, checked against the payload hash the entry's body commits to
 * (intoto): the attestation itself is outside the leaf and the SET. */
function attestation(e: api.LogEntry, body: Record<string, any>): { view: HTMLElement; check: Check } | null {
  const data = e.attestation?.data;
  if (!data) return null;
  let bytes: Uint8Array;
  try {
    bytes = b64decode(data);
  } catch {
    return { view: h("p", null, "The attestation is not base64."), check: note("Attestation", "not base64") };
  }
  const want = body.spec?.content?.payloadHash;
  const check = want?.algorithm === "sha256" && hex(sha256(bytes)) === want.value
    ? ok("Attestation", "its SHA-256 is the payload hash the entry logged")
    : note("Attestation", "shown, but not covered by the entry (its hash is not the logged payload hash)");
  let text = fromUtf8(bytes);
  try {
    text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    /* not JSON: shown as is */
  }
  return { view: h("section", null, h("h2", null, "Attestation"), h("pre", { tabindex: 0 }, text)), check };
}

export async function entryPage(root: HTMLElement, id: string): Promise<void> {
  let e: api.LogEntry;
  try {
    e = /^[0-9]+$/.test(id) ? await api.entryByIndex(Number(id)) : await api.entryByUuid(id);
  } catch (err) {
    // 64 hex digits may be an artifact's hash rather than an entry's UUID.
    if (err instanceof api.ApiError && err.status === 404 && /^[0-9a-fA-F]{64}$/.test(id)) {
      location.replace(`#/search?hash=${id}`);
      return;
    }
    throw err;
  }
  // The log is read after the entry, so that its head is at least the proof's.
  const log = await logCovering([e]);
  let body: Record<string, any> = {};
  let bodyText = "";
  try {
    bodyText = fromUtf8(b64decode(e.body));
    body = JSON.parse(bodyText) as Record<string, any>;
  } catch {
    /* shown raw */
  }
  const att = attestation(e, body);
  // An entry proven against a log that does not check out proves nothing: the log's
  // own failures and notes (a first visit) are part of the entry's verdict.
  const checks = [...await checkEntry(e, log), ...log.checks.filter((c) => c.status !== "ok"), ...(att ? [att.check] : [])];
  fill(root,
    h("h1", null, `Entry ${e.logIndex}`),
    verdict(`Entry ${e.logIndex}`, overall(checks), checks),
    facts([
      ["Log index", String(e.logIndex)],
      ["UUID", mono(e.uuid)],
      ["Integrated", time(e.integratedTime)],
      ["Log ID", mono(e.logID)],
      ...summary(body).map(([k, v]): [string, any] => [k, v.length > 80 ? mono(v) : v]),
      ["Neighbours", [e.logIndex > 0 ? link(`#/entry/${e.logIndex - 1}`, "previous") : "", " ",
        e.logIndex + 1 < log.total ? link(`#/entry/${e.logIndex + 1}`, "next") : ""]],
    ]),
    h("h2", null, "Keys and certificates"),
    keyViews(findKeys(body)),
    att?.view,
    h("h2", null, "Body"),
    h("pre", { tabindex: 0, class: "body" }, body.kind ? JSON.stringify(body, null, 2) : bodyText),
  );
}
