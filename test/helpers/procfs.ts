/** Counts of this process's open fds and mappings, read from /proc/self, for resource-bound tests. */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Open fds of this process whose target lies under `dir` (including deleted files). */
export function fdsUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) n++;
    } catch {
      // The fd readdir itself used is gone by now.
    }
  }
  return n;
}

export function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** Lines of /proc/self/maps naming a file under `dir`. */
export function mapsUnder(dir: string): number {
  return readFileSync("/proc/self/maps", "utf8").split("\n").filter((l) => l.includes(dir)).length;
}
