// The log's keys, one per shard, checked against the keys this browser pinned: on the
// first visit every key is pinned (trust on first use); later a key that is not pinned
// fails until the user accepts it.
import * as api from "./api";
import { pemDecode } from "./bytes";
import { fail, note, ok, type Check } from "./checks";
import { VerifyingKey } from "./sig";
import { loadPins, savePins, type Pins } from "./trust";

export interface LogKey {
  treeID: string;
  logID: string;
  pem: string;
  key: VerifyingKey;
  pinned: boolean;
}

export interface Keyring {
  keys: LogKey[];
  byTree: Map<string, LogKey>;
  checks: Check[];
}

// A tree's key never changes: fetched once per page session (the pins are re-read).
const fetched = new Map<string, Promise<string>>();

function publicKey(treeID: string): Promise<string> {
  let p = fetched.get(treeID);
  if (!p) {
    p = api.publicKey(treeID);
    fetched.set(treeID, p);
    p.catch(() => fetched.delete(treeID));
  }
  return p;
}

export async function loadKeyring(treeIDs: string[], pins: Pins = loadPins()): Promise<Keyring> {
  const firstVisit = Object.keys(pins.logKeys).length === 0;
  const keys = await Promise.all(treeIDs.map(async (treeID): Promise<LogKey> => {
    const pem = await publicKey(treeID);
    const key = new VerifyingKey(pemDecode(pem, "PUBLIC KEY"));
    const logID = key.fingerprint();
    return { treeID, logID, pem, key, pinned: pins.logKeys[logID] !== undefined };
  }));
  const checks: Check[] = [];
  if (firstVisit) {
    for (const k of keys) {
      pins.logKeys[k.logID] = k.pem;
      k.pinned = true;
    }
    savePins(pins);
    checks.push(note("Log key", `first visit: pinned ${keys.length} key(s); compare the fingerprint with the one your log's operator publishes`));
  } else {
    for (const k of keys) {
      checks.push(k.pinned ? ok("Log key", `tree ${k.treeID}: pinned key ${k.logID.slice(0, 16)}…`)
        : fail("Log key", `tree ${k.treeID} is signed by key ${k.logID.slice(0, 16)}…, which you have not pinned`));
    }
  }
  return { keys, byTree: new Map(keys.map((k) => [k.treeID, k])), checks };
}

export function trustKey(k: LogKey): void {
  const pins = loadPins();
  pins.logKeys[k.logID] = k.pem;
  savePins(pins);
}
