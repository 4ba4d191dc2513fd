// One entry, by log index or UUID: its body decoded for its kind, the keys and
// certificates in it, and every check the browser can make.
import * as api from "./api";
import { b64decode, fromUtf8 } from "./bytes";
import { verifiedLog } from "./home";
import { findKeys, type KeyView } from "./keys";
import { facts, fill, h, link, mono, time, verdict } from "./ui";
import { checkEntry, overall } from "./verify";

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

function attestation(e: api.LogEntry): HTMLElement | null {
  const data = e.attestation?.data;
  if (!data) return null;
  let text = fromUtf8(b64decode(data));
  try {
    text = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    /* not JSON: shown as is */
  }
  return h("section", null, h("h2", null, "Attestation"), h("pre", { tabindex: 0 }, text));
}

export async function entryPage(root: HTMLElement, id: string): Promise<void> {
  const log = await verifiedLog();
  const e = /^[0-9]+$/.test(id) ? await api.entryByIndex(Number(id)) : await api.entryByUuid(id);
  const checks = await checkEntry(e, log.keyring);
  // The log itself must check out too: an entry proven against a forged log proves nothing.
  const logChecks = log.checks.filter((c) => c.status === "fail");
  let body: Record<string, any> = {};
  let bodyText = "";
  try {
    bodyText = fromUtf8(b64decode(e.body));
    body = JSON.parse(bodyText) as Record<string, any>;
  } catch {
    /* shown raw */
  }
  fill(root, 
    h("h1", null, `Entry ${e.logIndex}`),
    verdict(`Entry ${e.logIndex}`, overall([...checks, ...logChecks]), [...checks, ...logChecks]),
    facts([
      ["Log index", String(e.logIndex)],
      ["UUID", mono(e.uuid)],
      ["Integrated", time(e.integratedTime)],
      ["Log ID", mono(e.logID)],
      ...summary(body).map(([k, v]): [string, any] => [k, v.length > 80 ? mono(v) : v]),
      ["Neighbours", [e.logIndex > 0 ? link(`#/entry/${e.logIndex - 1}`, "previous") : "", " ",
        link(`#/entry/${e.logIndex + 1}`, "next")]],
    ]),
    h("h2", null, "Keys and certificates"),
    keyViews(findKeys(body)),
    attestation(e),
    h("h2", null, "Body"),
    h("pre", { tabindex: 0, class: "body" }, body.kind ? JSON.stringify(body, null, 2) : bodyText),
  );
}
