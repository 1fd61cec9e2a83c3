/**
 * Append latency including segment rolls, and the cost of the flush tiers.
 *
 *   bun run bench/lifecycle.ts [--quick]
 *
 * Each append is timed with Bun.nanoseconds() (about 35 ns of overhead per reading on the
 * reference VM, included in the figures). Payload 64 bytes (128-byte records).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, type PublisherOptions } from "../src/index.ts";
import { pct, printTable } from "./table.ts";

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
  samples.sort();
  const total = samples.reduce((a, b) => a + b, 0);
  const rolls = Float64Array.from(rollSamples).sort();
  const us = (ns: number): string => (ns / 1000).toFixed(2);
  return [
    label,
    String(count),
    String(rolls.length),
    us(pct(samples, 0.5)),
    us(pct(samples, 0.99)),
    us(pct(samples, 0.999)),
    us(samples[samples.length - 1]),
    rolls.length ? us(pct(rolls, 0.5)) : "-",
    rolls.length ? us(rolls[rolls.length - 1]) : "-",
    ((count / total) * 1e9 / 1e6).toFixed(2),
  ];
}

function flushCost(label: string, every: number, sync: boolean, count: number): string[] {
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
  return [label, String(count), ((count / ns) * 1e9 / 1e6).toFixed(3), (ns / count / 1000).toFixed(2)];
}

try {
  const n = quick ? 200_000 : 2_000_000;
  console.log(`## Append latency, 64-byte payloads (${n} appends per row)\n`);
  printTable(
    ["configuration", "appends", "rolls", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "roll p50 µs", "roll max µs", "M msg/s"],
    [
      appendLatency("v2, 1 MiB segments, preallocate", { segmentSize: 1 << 20 }, n),
      appendLatency("v2, 1 MiB segments, no preallocate", { segmentSize: 1 << 20, preallocate: false }, n),
      appendLatency("v2, 64 MiB segments, preallocate", { segmentSize: 64 << 20 }, n),
      appendLatency("v2, 64 MiB segments, no preallocate", { segmentSize: 64 << 20, preallocate: false }, n),
      appendLatency("v1 (1 MiB, futex wake per append)", { formatVersion: 1 }, quick ? 100_000 : 500_000),
    ],
  );
  const m = quick ? 20_000 : 200_000;
  console.log(`\n## Flush tiers (${m} appends of 64 bytes, 64 MiB segments)\n`);
  printTable(
    ["flush", "appends", "M msg/s", "µs per append"],
    [
      flushCost("none (visible to readers, survives a process crash)", 0, false, m),
      flushCost("flushAsync every 100", 100, false, m),
      flushCost("flushAsync every 1000", 1000, false, m),
      flushCost("flushSync every 1000", 1000, true, m),
      flushCost("flushSync every 10000", 10_000, true, m),
    ],
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
