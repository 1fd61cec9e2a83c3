/**
 * Fan-in throughput with 1, 4 and 16 sources, and discovery latency from READY appearing to the
 * Added event.
 *
 *   bun run bench:fanin [--quick]
 *
 * Throughput: each source queue is filled first (64-byte payloads, timestamps interleaved across
 * sources), then one FanInReader drains all of them; the figure is merged records per second,
 * CRC checked, the median (min–max) of 3 runs (2 with --quick), against a plain reader of one
 * queue (the baseline, measured in the same run). Discovery: a strategy directory with a queue is prepared, then READY is written
 * (READY.tmp + rename) and the time until RouterDiscovery reports Added is measured, both with a
 * poll() loop and with the async iterator (inotify through the event loop).
 */
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BusLayout, FanInReader, Queue, RouterDiscovery } from "../src/index.ts";
import { printTable, Progress } from "./output.ts";
import { distribution, median } from "./stats.ts";

const quick = process.argv.includes("--quick");
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-fanin-"));

/**
 * Fills `sources` queues with `total` 64-byte records in all and reads them back through one
 * FanInReader, or (`plain`, one source) through a plain reader; records per second.
 */
function readRate(sources: number, total: number, plain: boolean): number {
  const dir = join(root, `fan${sources}`);
  const perSource = Math.floor(total / sources);
  const payload = new Uint8Array(64).fill(3);
  for (let s = 0; s < sources; s++) {
    using w = Queue.openPublisher(join(dir, String(s)), { segmentSize: 64 << 20, preallocate: false });
    for (let i = 0; i < perSource; i++) w.append(1, payload, BigInt(i * sources + s));
  }
  let n = 0;
  let bytes = 0;
  let ns = 0;
  if (plain) {
    using reader = Queue.openAnonymous(join(dir, "0"));
    const t0 = Bun.nanoseconds();
    for (let m = reader.next(); m !== null; m = reader.next()) {
      n++;
      bytes += m.length;
    }
    ns = Bun.nanoseconds() - t0;
  } else {
    using fan = new FanInReader();
    for (let s = 0; s < sources; s++) fan.addReader(Queue.openAnonymous(join(dir, String(s))));
    const t0 = Bun.nanoseconds();
    for (let m = fan.next(); m !== null; m = fan.next()) {
      n++;
      bytes += m.message.length;
    }
    ns = Bun.nanoseconds() - t0;
  }
  if (n !== perSource * sources || bytes !== n * 64) throw new Error(`read ${n} of ${perSource * sources}`);
  rmSync(dir, { recursive: true, force: true });
  return (n / ns) * 1e9;
}

async function discoveryLatency(trials: number, mode: "poll" | "async"): Promise<Float64Array> {
  const busRoot = join(root, `bus-${mode}`);
  const layout = new BusLayout(busRoot);
  using discovery = new RouterDiscovery(layout, { rescanIntervalMs: 1000 });
  const iterator = discovery[Symbol.asyncIterator]();
  const samples = new Float64Array(trials);
  for (let i = 0; i < trials; i++) {
    const id = `s${i}`;
    const { ordersOut } = layout.strategyEndpoints(id);
    mkdirSync(ordersOut, { recursive: true });
    Queue.openPublisher(ordersOut, { preallocate: false }).close();
    // Let discovery see the new directories (and watch them) before READY appears.
    if (mode === "poll") discovery.poll();
    await Bun.sleep(5);
    writeFileSync(join(ordersOut, "READY.tmp"), "version=1\n");
    const t0 = Bun.nanoseconds();
    renameSync(join(ordersOut, "READY.tmp"), join(ordersOut, "READY"));
    for (;;) {
      const events = mode === "poll" ? discovery.poll() : [(await iterator.next()).value];
      if (events.some((e) => e !== undefined && e.kind === "added" && e.strategy === id)) break;
    }
    samples[i] = (Bun.nanoseconds() - t0) / 1000;
  }
  return samples;
}

const RUNS = quick ? 2 : 3;
/** The rows of the throughput table; the first is the baseline. */
const READERS: [string, number, boolean][] = [
  ["baseline: plain reader, one queue", 1, true],
  ["fan-in, 1 source", 1, false],
  ["fan-in, 4 sources", 4, false],
  ["fan-in, 16 sources", 16, false],
];
const MODES = ["poll", "async"] as const;
const progress = new Progress(RUNS * READERS.length + MODES.length);

try {
  const total = quick ? 200_000 : 2_000_000;
  const rates: number[][] = READERS.map(() => []);
  for (let run = 1; run <= RUNS; run++) {
    READERS.forEach(([label, sources, plain], i) => {
      rates[i]!.push(readRate(sources, total, plain));
      progress.step(`run ${run}  ${label.padEnd(34)} ${(rates[i]![run - 1]! / 1e6).toFixed(2)} M msg/s`);
    });
  }
  const m = (x: number): string => (x / 1e6).toFixed(2);
  const base = median(rates[0]!);
  console.log(`## Fan-in throughput (${total} records of 64 bytes in total, CRC checked; median (min–max) of ${RUNS} runs)\n`);
  printTable(
    ["reader", "M msg/s", "vs plain reader"],
    READERS.map(([label], i) => {
      const r = rates[i]!;
      return [label, `${m(median(r))} (${m(Math.min(...r))}–${m(Math.max(...r))})`, `${(median(r) / base).toFixed(2)}x`];
    }),
  );

  const trials = quick ? 30 : 200;
  const rows: string[][] = [];
  for (const mode of MODES) {
    const d = distribution(await discoveryLatency(trials, mode));
    rows.push([mode === "poll" ? "poll() loop" : "async iterator", d.p50.toFixed(0), d.p99.toFixed(0), d.max.toFixed(0)]);
    progress.step(`discovery  ${mode}`);
  }
  console.log(`\n## Discovery latency, READY rename to Added (${trials} strategies)\n`);
  printTable(["mode", "p50 µs", "p99 µs", "max µs"], rows);
} finally {
  rmSync(root, { recursive: true, force: true });
}
