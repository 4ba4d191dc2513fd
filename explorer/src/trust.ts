// What this browser remembers of the log, in local storage: the log keys it pinned
// (trust on first use, or accepted by the user) and the last checkpoint it verified,
// which the next visit's checkpoint must be consistent with.

export interface SeenShard {
  size: number;
  rootHash: string;
  frozen: boolean;
}

export interface Pins {
  /** Log ID (hex SHA-256 of the DER key) to PEM. */
  logKeys: Record<string, string>;
  /** Every shard's last verified head; a frozen shard's must never change. */
  shards?: Record<string, SeenShard>;
  /** The shards' tree IDs in log order (their offsets follow from it). */
  shardOrder?: string[];
  /** Witness name to the vkey seen first. */
  witnesses?: Record<string, string>;
  /** The v2 log's vkey line. */
  v2Vkey?: string;
  v2LastHead?: { size: number; rootHash: string };
}

const storageKey = (): string => `rekor-py-explorer:${location.origin}${location.pathname}`;

export function loadPins(): Pins {
  try {
    const raw = localStorage.getItem(storageKey());
    if (raw) {
      const p = JSON.parse(raw) as Pins;
      if (p && typeof p.logKeys === "object") return p;
    }
  } catch {
    /* unreadable storage: start afresh */
  }
  return { logKeys: {} };
}

export function savePins(p: Pins): void {
  try {
    localStorage.setItem(storageKey(), JSON.stringify(p));
  } catch {
    /* storage full or disabled: the page still verifies, it just cannot remember */
  }
}

export function forgetPins(): void {
  localStorage.removeItem(storageKey());
}
