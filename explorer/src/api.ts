// The Rekor v1 API as the explorer reads it.  Everything the server says is data to
// check, not to trust: the shapes are checked here, the cryptography in verify.ts.

export interface Config {
  /** Where the API lives, "" for this origin's root. */
  apiBase: string;
  /** The C2SP tile API of the v1 log ("" = the root). */
  tilePrefix: string;
  /** Whether a Rekor v2 log is served under /api/v2. */
  v2: boolean;
  /** The explorer's own data (growth.json). */
  explorerBase: string;
  /** The witnesses of the log's policy: name and c2sp.org vkey. */
  witnesses?: { name: string; vkey: string }[];
}

export class ApiError extends Error {
  constructor(message: string, readonly status = 0) {
    super(message);
  }
}

let config: Config = { apiBase: "", tilePrefix: "", v2: false, explorerBase: "./" };
export function setConfig(c: Config): void {
  config = c;
}
export const getConfig = (): Config => config;

/** `path` under the API's base; `base` for the explorer's own data. */
async function request(path: string, init?: RequestInit, base = config.apiBase): Promise<Response> {
  let r: Response;
  try {
    r = await fetch(base + path, init);
  } catch (e) {
    throw new ApiError(`${path}: the server did not answer (${String(e)})`);
  }
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try {
      const body = (await r.json()) as { message?: string };
      if (typeof body.message === "string") message = `${r.status}: ${body.message}`;
    } catch {
      /* not Rekor's error shape */
    }
    throw new ApiError(message, r.status);
  }
  return r;
}

export async function getJson<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

export async function getText(path: string): Promise<string> {
  return (await request(path)).text();
}

export async function getBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await (await request(path)).arrayBuffer());
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const r = await request(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  return r.json() as Promise<T>;
}

export interface TreeHead {
  rootHash: string;
  signedTreeHead: string;
  treeID: string;
  treeSize: number;
}

export interface LogInfo extends TreeHead {
  inactiveShards?: TreeHead[] | null;
}

export interface InclusionProof {
  checkpoint: string;
  hashes: string[];
  logIndex: number;
  rootHash: string;
  treeSize: number;
}

export interface LogEntry {
  uuid: string;
  body: string;
  integratedTime: number;
  logID: string;
  logIndex: number;
  verification?: { inclusionProof?: InclusionProof; signedEntryTimestamp?: string };
  attestation?: { data?: string };
}

/** Rekor's `{uuid: entry}` maps (one per entry) as a list. */
function entries(answer: unknown): LogEntry[] {
  const out: LogEntry[] = [];
  const maps = Array.isArray(answer) ? answer : [answer];
  for (const m of maps) {
    if (typeof m !== "object" || m === null) throw new ApiError("an entry answer is not an object");
    // The map's key is the UUID; a "uuid" field inside the entry must not override it.
    for (const [uuid, e] of Object.entries(m as Record<string, Omit<LogEntry, "uuid">>)) out.push({ ...e, uuid });
  }
  return out;
}

export const logInfo = (): Promise<LogInfo> => getJson<LogInfo>("/api/v1/log");
export const publicKey = (treeID?: string): Promise<string> =>
  getText(`/api/v1/log/publicKey${treeID ? `?treeID=${encodeURIComponent(treeID)}` : ""}`);

/** The leaf hash part of a UUID (the last 64 hex digits), for comparing answers with questions. */
const leafPart = (uuid: string): string => uuid.slice(-64).toLowerCase();

export async function entryByIndex(index: number): Promise<LogEntry> {
  const found = entries(await getJson(`/api/v1/log/entries?logIndex=${index}`));
  if (found.length !== 1 || found[0]!.logIndex !== index) {
    throw new ApiError(`asked for entry ${index}, the server answered ${found.map((e) => e.logIndex).join(", ") || "nothing"}`);
  }
  return found[0]!;
}

export async function entryByUuid(uuid: string): Promise<LogEntry> {
  const found = entries(await getJson(`/api/v1/log/entries/${encodeURIComponent(uuid)}`));
  if (found.length !== 1 || leafPart(found[0]!.uuid) !== leafPart(uuid)) {
    throw new ApiError(`asked for entry ${uuid}, the server answered another`);
  }
  return found[0]!;
}

/** Up to 10 entries a request, as Rekor allows; more are asked in parallel. */
export async function retrieve(query: { logIndexes?: number[]; entryUUIDs?: string[] }): Promise<LogEntry[]> {
  const key = query.logIndexes ? "logIndexes" : "entryUUIDs";
  const items: (number | string)[] = query.logIndexes ?? query.entryUUIDs ?? [];
  const chunks: (number | string)[][] = [];
  for (let i = 0; i < items.length; i += 10) chunks.push(items.slice(i, i + 10));
  const answers = await Promise.all(chunks.map((c) => postJson<unknown[]>("/api/v1/log/entries/retrieve", { [key]: c })));
  const found = answers.flatMap((a) => entries(a));
  // Only what was asked for, each once; by index, every index asked for (all exist:
  // the caller asks only below the verified size).  An answer otherwise is refused.
  const asked = new Set(query.logIndexes ? items.map(String) : items.map((u) => leafPart(String(u))));
  const got = found.map((e) => (query.logIndexes ? String(e.logIndex) : leafPart(e.uuid)));
  const extra = got.find((k) => !asked.has(k));
  if (extra !== undefined) throw new ApiError(`the server answered entry ${extra}, which was not asked for`);
  if (new Set(got).size !== got.length) throw new ApiError("the server answered an entry twice");
  if (query.logIndexes && got.length !== asked.size) {
    throw new ApiError(`asked for ${asked.size} entries, the server answered ${got.length}`);
  }
  return found;
}

export type IndexQuery = { hash: string } | { email: string } | { publicKey: { format: string; content: string } };

export const searchIndex = (q: IndexQuery): Promise<string[]> => postJson<string[]>("/api/v1/index/retrieve", q);

export interface ConsistencyProof {
  hashes: string[];
  rootHash: string;
}

export const consistencyProof = (firstSize: number, lastSize: number, treeID: string): Promise<ConsistencyProof> =>
  getJson(`/api/v1/log/proof?firstSize=${firstSize}&lastSize=${lastSize}&treeID=${encodeURIComponent(treeID)}`);

/** The C2SP checkpoint of the v1 tree, with witness cosignatures when there are any. */
export const c2spCheckpoint = (): Promise<string> => getText("/api/v1/log/checkpoint");

export interface Growth {
  now: number;
  points: { time: number; size: number }[];
}

export const growth = async (hours: number): Promise<Growth> =>
  (await request(`growth.json?hours=${hours}`, undefined, config.explorerBase)).json() as Promise<Growth>;
