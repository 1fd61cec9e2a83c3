/** Counts of this process's open fds and mappings, read from /proc/self, for resource-bound tests. */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { basename } from "node:path";
import { PREPARED_SUFFIX, parseSegmentFileName } from "../../src/queue/layout/index.ts";

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

/** Distinct segment files of `dir` mapped in this process (including deleted and prepared ones). */
export function mappedSegmentFiles(dir: string): number {
  const paths = new Set<string>();
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    const at = line.indexOf(dir + "/");
    if (at < 0) continue;
    // A deleted file and a new one of the same name count twice.
    const path = line.slice(at);
    const file = path.replace(/ \(deleted\)$/, "");
    const name = basename(file.endsWith(PREPARED_SUFFIX) ? file.slice(0, -PREPARED_SUFFIX.length) : file);
    if (parseSegmentFileName(name) >= 0) paths.add(path);
  }
  return paths.size;
}

/** Threads of this process. */
export function threadCount(): number {
  return readdirSync("/proc/self/task").length;
}

/** This process's address space (VmSize) in bytes. */
export function addressSpaceBytes(): number {
  return Number(/VmSize:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]) * 1024;
}

/** The permissions ("r--s", "rw-s", ...) of this process's mappings of files under `dir`, by file path. */
export function mappingPermissions(dir: string, pid: number | "self" = "self"): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    const at = line.indexOf(dir + "/");
    if (at < 0) continue;
    const path = line.slice(at);
    const perms = line.split(/\s+/)[1]!;
    out.set(path, [...(out.get(path) ?? []), perms]);
  }
  return out;
}
