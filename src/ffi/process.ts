/** Process identity from /proc, used for liveness checks of lock owners. */
import { readFileSync } from "node:fs";

/**
 * Start time of a process (field 22 of /proc/<pid>/stat, in clock ticks since boot), or null
 * when the process does not exist. Parsed after the last ')' because the command name may
 * contain spaces and parentheses.
 */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state), so field 22 is rest[19].
  return rest[19] ?? null;
}

/** True when `pid` is running and, if given, started at `startTime` (so it is not a reused pid). */
export function isProcessAlive(pid: number, startTime?: string): boolean {
  const st = processStartTime(pid);
  if (st === null) return false;
  return startTime === undefined || st === startTime;
}
