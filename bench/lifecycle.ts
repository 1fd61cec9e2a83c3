/**
 * Append latency including segment rolls, and the cost of the flush tiers.
 *
 *   bun run bench/lifecycle.ts [--quick]
 *
 * Each append is timed with Bun.nanoseconds() (about 35 ns of overhead per reading on the
 * reference VM, included in the figures). Payload 64 bytes (128-byte records). One run per row;
 * the flush tiers' ratios are against no flushing, measured in the same run. A progress line per
 * row goes to stderr.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, type PublisherOptions } from "../src/index.ts";
import { distribution } from "./stats.ts";
import { printTable, Progress } from "./output.ts";

const quick = process.argv.includes("--quick");
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-lifecycle-"));
let runs = 0;

function appendLatency(label: string, opts: PublisherOptions, count: number): string[] {
  const dir = join(root, `q${runs++}`);
  const writer = Queue.openPublisher(dir, opts);
  Bun.sleepSync(200); // let the preparer build the first spare segment, as a long-running writer would have
  const payload = new Uint8Array(64).fill(1);
  const samples = new Float64Array(count);
  const rollSamples: number[] = [];
  let segment = writer.currentSegment;
  for (let i = 0; i < count; i++) {
    const t0 = Bun.nanoseconds();
    writer.append(1, payload);
    const dt = Bun.nanoseconds() - t0;
    samples[i] = dt;
    if (writer.currentSegment !== segment) {
      rollSamples.push(dt);
      segment = writer.currentSegment;
    }
  }
  writer.close();
  rmSync(dir, { recursive: true, force: true });
  const all = distribution(samples);
  const rolls = rollSamples.length > 0 ? distribution(Float64Array.from(rollSamples)) : null;
  const us = (ns: number): string => (ns / 1000).toFixed(2);
  progress.step(`append latency  ${label}`);
  return [
    label,
    String(count),
    String(rollSamples.length),
    us(all.p50),
    us(all.p99),
    us(all.p999),
    us(all.max),
    rolls === null ? "-" : us(rolls.p50),
    rolls === null ? "-" : us(rolls.max),
    (1e9 / all.mean / 1e6).toFixed(2),
  ];
}

/** Appends per second with a flush every `every` appends (0: none). */
function flushRate(label: string, every: number, sync: boolean, count: number): number {
  const dir = join(root, `q${runs++}`);
  const writer = Queue.openPublisher(dir, { segmentSize: 64 << 20 });
  Bun.sleepSync(100);
  const payload = new Uint8Array(64).fill(1);
  const t0 = Bun.nanoseconds();
  for (let i = 1; i <= count; i++) {
    writer.append(1, payload);
    if (every > 0 && i % every === 0) {
      if (sync) writer.flushSync();
      else writer.flushAsync();
    }
  }
  const ns = Bun.nanoseconds() - t0;
  writer.close();
  rmSync(dir, { recursive: true, force: true });
  progress.step(`flush tiers  ${label}`);
  return (count / ns) * 1e9;
}

const FLUSH_TIERS: [string, number, boolean][] = [
  ["none (visible to readers, survives a process crash)", 0, false],
  ["flushAsync every 100", 100, false],
  ["flushAsync every 1000", 1000, false],
  ["flushSync every 1000", 1000, true],
  ["flushSync every 10000", 10_000, true],
];
const n = quick ? 200_000 : 2_000_000;
const APPEND_CASES: [string, PublisherOptions, number][] = [
  ["v2, 1 MiB segments, preallocate", { segmentSize: 1 << 20 }, n],
  ["v2, 1 MiB segments, no preallocate", { segmentSize: 1 << 20, preallocate: false }, n],
  ["v2, 64 MiB segments, preallocate", { segmentSize: 64 << 20 }, n],
  ["v2, 64 MiB segments, no preallocate", { segmentSize: 64 << 20, preallocate: false }, n],
  ["v1 (1 MiB, futex wake per append)", { formatVersion: 1 }, quick ? 100_000 : 500_000],
];
const progress = new Progress(APPEND_CASES.length + FLUSH_TIERS.length);

try {
  console.log(`## Append latency, 64-byte payloads (${n} appends per row)\n`);
  printTable(
    ["configuration", "appends", "rolls", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "roll p50 µs", "roll max µs", "M msg/s"],
    APPEND_CASES.map(([label, opts, count]) => appendLatency(label, opts, count)),
  );
  const m = quick ? 20_000 : 200_000;
  console.log(`\n## Flush tiers (${m} appends of 64 bytes, 64 MiB segments)\n`);
  const rates = FLUSH_TIERS.map(([label, every, sync]) => [label, flushRate(label, every, sync, m)] as const);
  printTable(
    ["flush", "appends", "M msg/s", "µs per append", "vs none"],
    rates.map(([label, r]) => [label, String(m), (r / 1e6).toFixed(3), (1e6 / r).toFixed(2), `${(r / rates[0]![1]).toFixed(2)}x`]),
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
