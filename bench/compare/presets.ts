/**
 * What main.ts runs. A preset names the transports, the measures (those its method gives message
 * counts for), the payload sizes and counts of a full and a quick run, what its report compares
 * with, and what --write updates: bench/results/<id>.json, the block between `<!-- <id>:begin -->`
 * and `<!-- <id>:end -->` in docs/BENCHMARKS.md, and the chart, if any.
 */
import type { Method } from "./results.ts";
import type { MeasureId, TransportId } from "./types.ts";

export type PresetId = "compare" | "latency";

/** A latency percentile of the tables, as in the results' values. */
export type Percentile = "p50" | "p90" | "p99" | "p999" | "max";

/** The report's ratio columns: the transports against one of them, measured in the same invocation. */
export interface Ratios {
  baseline: TransportId;
  /** The latency percentiles shown as ratios (throughput: always the message rate). */
  keys: readonly Percentile[];
  /**
   * Pair each run with the baseline's run of the same round (interleaved, so under the same
   * load) and show the median and range of those ratios; otherwise the ratio of the medians.
   */
  perRun: boolean;
}

/** Ratio limits a transport should meet against the baseline, checked in the report's notes. */
export interface Target {
  transport: TransportId;
  measure: MeasureId;
  limits: Partial<Record<Percentile, number>>;
  /** Where the targets come from. */
  source: string;
}

export interface Preset {
  id: PresetId;
  /** One line for the usage text. */
  summary: string;
  /** The transports; the report keeps the order of TRANSPORTS. */
  transports: readonly TransportId[];
  full: Method;
  quick: Method;
  /** The one-way latency chart's file under docs/, or null for none. */
  chart: string | null;
  /** Latency tables with p90 and max besides p50, p99 and p99.9. */
  detail: boolean;
  ratios: Ratios;
  targets: readonly Target[];
  /** A table of the garbage collections in each process during the measured messages. */
  gcTable: boolean;
}

/** Report order of the measures. */
export const MEASURE_IDS: readonly MeasureId[] = ["oneWay", "roundTrip", "throughput"];

/** The measures a method runs: those it has message counts for. */
export function measuresOf(method: Method): MeasureId[] {
  return MEASURE_IDS.filter((m) => method[m] !== undefined);
}

const SIZES = [64, 256, 1024];
/** Pause between one-way messages: long enough for every receiver to go idle (and a futex waiter to sleep). */
const INTERVAL_MS = 1;
/** Pause after both ends are open, for background work (preallocation, JIT) to settle. */
const SETTLE_MS = 150;

type Counts = [messages: number, warmup: number];

/** A method from its run count, sizes and [messages, warm-up] per measure to run. */
function method(runs: number, sizes: number[], counts: { oneWay?: Counts; roundTrip?: Counts; throughput?: Counts }): Method {
  const of = (c: Counts): { messages: number; warmup: number } => ({ messages: c[0], warmup: c[1] });
  return {
    runs,
    sizes,
    ...(counts.oneWay ? { oneWay: { ...of(counts.oneWay), intervalMs: INTERVAL_MS } } : {}),
    ...(counts.roundTrip ? { roundTrip: of(counts.roundTrip) } : {}),
    ...(counts.throughput ? { throughput: of(counts.throughput) } : {}),
    settleMs: SETTLE_MS,
  };
}

/** Every transport (but the bare loop), every measure, three payload sizes. */
const compare: Preset = {
  id: "compare",
  summary: "every transport (chronicle, Unix socket, Bun IPC, SQLite, file + fs.watch, Redis), one-way, round trip and throughput, 64/256/1024 B",
  transports: ["chronicle-spin", "chronicle-hybrid", "chronicle-async", "uds", "ipc", "sqlite", "file", "redis"],
  // Warm-ups are long enough for the JIT to finish tiering up the hot loops (a few thousand
  // iterations); short ones make the fast transports look several times slower than they are.
  full: method(3, SIZES, { oneWay: [2_000, 500], roundTrip: [2_000, 2_000], throughput: [500_000, 50_000] }),
  quick: method(2, SIZES, { oneWay: [300, 50], roundTrip: [500, 100], throughput: [20_000, 2_000] }),
  chart: "compare.svg",
  detail: false,
  ratios: { baseline: "uds", keys: ["p50"], perRun: false },
  targets: [],
  gcTable: false,
};

/**
 * chronicle's wait modes against the bare spin loop (the floor: the same protocol work without
 * the library), a Unix socket and Bun IPC, 64 B, many samples for the tails.
 */
const latency: Preset = {
  id: "latency",
  summary:
    "chronicle spin / hybrid / waitAsync against a bare spin loop on a shared mapping, a Unix socket and Bun IPC: " +
    "one-way wake-up and ping-pong, 64 B, long runs for the tails, GC counts",
  transports: ["bare", "chronicle-spin", "chronicle-hybrid", "chronicle-async", "uds", "ipc"],
  full: method(3, [64], { oneWay: [5_000, 500], roundTrip: [100_000, 2_000] }),
  quick: method(2, [64], { oneWay: [1_000, 200], roundTrip: [10_000, 2_000] }),
  chart: null,
  detail: true,
  ratios: { baseline: "bare", keys: ["p50", "p99", "p999"], perRun: true },
  targets: [{ transport: "chronicle-spin", measure: "roundTrip", limits: { p50: 1.3, p99: 3, p999: 3 }, source: "issue 13" }],
  gcTable: true,
};

export const PRESETS: Record<PresetId, Preset> = { compare, latency };
