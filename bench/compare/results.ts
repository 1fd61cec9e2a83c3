/** The results files (bench/results/<preset>.json): their shape and the per-series summary. */
import { median } from "../stats.ts";
import type { GcStats } from "./gc.ts";
import type { PresetId } from "./presets.ts";
import type { MeasureId, TransportId } from "./types.ts";

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  arch: string;
  memoryGiB: number;
  bun: string;
  /** Where the runs kept their files (queues, databases, logs, sockets) and its filesystem. */
  tempDir: string;
  tempFs: string;
  /** 1/5/15-minute load averages at the start and the end: how busy the machine was. */
  loadStart: number[];
  loadEnd: number[];
}

/** Message counts per measure; a measure without counts is not run. */
export interface Method {
  runs: number;
  sizes: number[];
  oneWay?: { messages: number; warmup: number; intervalMs: number };
  roundTrip?: { messages: number; warmup: number };
  throughput?: { messages: number; warmup: number };
  settleMs: number;
}

export interface TransportInfo {
  id: TransportId;
  label: string;
  short: string;
  guarantees: string;
  status: "ok" | "skipped" | "failed";
  reason?: string;
}

/** The collections in each process during the measured messages (gc.ts); null where the GC log was missing. */
export interface RunGc {
  a: GcStats | null;
  b: GcStats | null;
}

/** One run: what process A measured, or why it failed. */
export type RunRecord =
  | { values: Record<string, number>; counters?: Record<string, number>; gc?: RunGc; seconds: number }
  | { error: string; seconds: number };

export interface Stat {
  median: number;
  min: number;
  max: number;
}

export interface Series {
  transport: TransportId;
  measure: MeasureId;
  size: number;
  runs: RunRecord[];
  /** Per value (p50, msgsPerSec, ...): median and range over the successful runs; null when none succeeded. */
  summary: Record<string, Stat> | null;
}

export interface CompareResults {
  schema: 1;
  /** Which preset of main.ts ran (absent in files from before presets: "compare"). */
  preset?: PresetId;
  generated: string;
  mode: "full" | "quick";
  durationSeconds: number;
  machine: Machine;
  method: Method;
  transports: TransportInfo[];
  series: Series[];
}

export function summarize(runs: RunRecord[]): Record<string, Stat> | null {
  const ok = runs.flatMap((r) => ("values" in r ? [r.values] : []));
  if (ok.length === 0) return null;
  const out: Record<string, Stat> = {};
  for (const key of Object.keys(ok[0]!)) {
    const xs = ok.map((v) => v[key]!);
    out[key] = { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
  }
  return out;
}

export function errorsOf(series: Series): string[] {
  return [...new Set(series.runs.flatMap((r) => ("error" in r ? [r.error] : [])))];
}
