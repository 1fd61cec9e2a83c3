/**
 * Garbage collections during the measured messages, per process, from JavaScriptCore's own GC log.
 *
 * bun:jsc has no collection counter (heapStats()'s object count and heapSize() change only when a
 * collection marks, so they cannot count allocations either), but JSC logs every collection with
 * its pause when BUN_JSC_logGC=1 is set: main.ts starts process A with it, and B inherits it. Each
 * process writes a marker line on stderr where its measured messages begin and end (GcSpan), and
 * whoever reads its stderr counts the collections that start in between (gcStats): main.ts for A,
 * A for B (whose stderr goes to a file in the run's directory). The log names the heap of each
 * collection; the first heap in it is the main thread's, any other a worker's (the library's
 * segment preparer, waitAsync's helper), which does not stop the main thread but takes a core.
 */
import { writeSync } from "node:fs";

export const GC_LOG_ENV = { BUN_JSC_logGC: "1" } as const;

/** Collections that started during the measured messages of one process, and their pauses. */
export interface GcStats {
  /** Of the main thread's heap, which the measured loop runs on. */
  collections: number;
  /** Of which full (not eden) collections. */
  full: number;
  /** Sum of their stop-the-world pauses. */
  pauseMs: number;
  /** Collections of the process's worker heaps. */
  workerCollections: number;
}

const BEGIN = "GCMARK begin";
const END = "GCMARK end";

/** A line of its own even when it lands inside a GC log line (JSC writes one in pieces while a collection runs). */
function mark(line: string): void {
  writeSync(2, `\n${line}\n`);
}

/** Marks the measured part of a measure: messages from number `warmup` on, and its end. */
export class GcSpan {
  private begun = false;

  constructor(private readonly warmup: number) {
    this.reached(0);
  }

  /** `handled` messages are done; the measured part begins when that is the warm-up count. */
  reached(handled: number): void {
    if (this.begun || handled < this.warmup) return;
    this.begun = true;
    mark(BEGIN);
  }

  end(): void {
    this.reached(this.warmup);
    mark(END);
  }
}

/** One log entry per collection: "[GC<heap>: START M 9872kb => EdenCollection, ... p=0.52ms (max ...) ... END]". */
const COLLECTION = /\[GC<([^>]*)>: START \S+ \d+kb => (\w+)[\s\S]*?p=([\d.]+)ms/g;

/** The collections between the markers in a process's stderr; null without the GC log or the markers. */
export function gcStats(stderr: string): GcStats | null {
  const mainHeap = /\[GC<([^>]*)>/.exec(stderr)?.[1];
  const begin = stderr.indexOf(BEGIN);
  const end = stderr.indexOf(END, begin);
  if (mainHeap === undefined || begin < 0 || end < 0) return null;
  const stats: GcStats = { collections: 0, full: 0, pauseMs: 0, workerCollections: 0 };
  for (const m of stderr.matchAll(COLLECTION)) {
    if (m.index < begin || m.index > end) continue;
    if (m[1] !== mainHeap) {
      stats.workerCollections++;
      continue;
    }
    stats.collections++;
    if (m[2] === "FullCollection") stats.full++;
    stats.pauseMs += Number(m[3]);
  }
  stats.pauseMs = Math.round(stats.pauseMs * 1000) / 1000;
  return stats;
}

/** What is left of a process's stderr without the GC log and the markers (errors, warnings). */
export function withoutGcLog(stderr: string): string {
  return stderr
    .replace(/\[GC<[^>]*>: START[\s\S]*?END\]/g, "")
    .split("\n")
    .filter((l) => l.trim() !== "" && !/^(\[GC<|GC END!|Requesting GC because|GCMARK )/.test(l))
    .map((l) => `${l}\n`)
    .join("");
}
