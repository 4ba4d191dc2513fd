// A check's outcome: what was checked, its status and the reason, as every page shows it.

export type Status = "ok" | "fail" | "warn";

export interface Check {
  what: string;
  status: Status;
  detail: string;
}

export const ok = (what: string, detail: string): Check => ({ what, status: "ok", detail });
export const fail = (what: string, detail: string): Check => ({ what, status: "fail", detail });
export const note = (what: string, detail: string): Check => ({ what, status: "warn", detail });

export function overall(checks: Check[]): Status {
  if (checks.some((c) => c.status === "fail")) return "fail";
  if (checks.some((c) => c.status === "warn")) return "warn";
  return "ok";
}

/** The message of whatever was thrown. */
export const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));
