/**
 * A small end-to-end demo: a writer process publishes price ticks into a queue, this process
 * follows it live, checks every record, commits its position, and then shows a restart resuming
 * from the committed position.
 *
 *   bun run examples/basic.ts [queueDir] [count]
 *
 * The queue directory defaults to this user's $XDG_RUNTIME_DIR/chronicle-basic or <tmp>/chronicle-<uid>/basic and is recreated each run.
 */
import { rmSync } from "node:fs";
import { Queue, defaultUserPath } from "../src/index.ts";

const TICK_TYPE = 1;
const TICK_SIZE = 32;

/** Fixed-layout tick: symbol u32 @0, qty u32 @4, price f64 @8, send time (epoch ms, f64) @16. */
function encodeTick(view: DataView, symbol: number, qty: number, price: number, sentMs: number): void {
  view.setUint32(0, symbol, true);
  view.setUint32(4, qty, true);
  view.setFloat64(8, price, true);
  view.setFloat64(16, sentMs, true);
}

async function runWriter(dir: string, count: number): Promise<void> {
  using writer = Queue.openPublisher(dir, { segmentSize: 1 << 20 });
  const buf = new Uint8Array(TICK_SIZE);
  const view = new DataView(buf.buffer);
  for (let i = 0; i < count; i++) {
    encodeTick(view, i % 16, 100 + (i % 7), 100 + Math.sin(i / 100), wallClockMs());
    writer.append(TICK_TYPE, buf);
    // Publish in bursts with short pauses, like a market feed.
    if (i % 1000 === 999) await Bun.sleep(1);
  }
}

/** Wall clock in ms with µs resolution, comparable across processes. */
function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

function latencyUs(tick: Uint8Array): number {
  return (wallClockMs() - new DataView(tick.buffer, tick.byteOffset, tick.byteLength).getFloat64(16, true)) * 1000;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Latency of every record, and separately of the records that found the reader caught up (its
 * previous next() returned null): those measure how soon a reader sees a new record; the others
 * also include the time a record waited behind earlier ones that the reader had not read yet.
 */
class Latencies {
  readonly all: Float64Array;
  private readonly idle: Float64Array;
  private idleCount = 0;

  constructor(count: number) {
    this.all = new Float64Array(count);
    this.idle = new Float64Array(count);
  }

  add(seq: number, tick: Uint8Array, readerWasIdle: boolean): void {
    const us = latencyUs(tick);
    this.all[seq] = us;
    if (readerWasIdle) this.idle[this.idleCount++] = us;
  }

  report(): string[] {
    const line = (values: Float64Array): string => {
      const sorted = values.slice().sort();
      return `p50 ${percentile(sorted, 50).toFixed(1)}  p99 ${percentile(sorted, 99).toFixed(1)}  max ${(sorted.at(-1) ?? NaN).toFixed(1)}`;
    };
    return [
      `latency, writer append -> reader next(), µs:`,
      `  every record (${this.all.length}):           ${line(this.all)}`,
      this.idleCount === 0
        ? "  records that found the reader caught up: none"
        : `  records that found the reader caught up (${this.idleCount}): ${line(this.idle.subarray(0, this.idleCount))}`,
      `The first line includes queueing: the writer publishes bursts of 1000 ticks far faster than`,
      `this reader checks and decodes them (and the restart leaves a gap), so most records wait`,
      `behind earlier ones; on a busy machine that grows to tens or hundreds of ms. The second line`,
      `is the wake-up latency alone: records that arrived while the reader was polling an empty`,
      `queue. For measured cross-process latency and throughput see bun run bench:latency.`,
    ];
  }
}

async function follow(dir: string, count: number, latencies: Latencies): Promise<number> {
  using reader = Queue.openSubscriber(dir, "demo-reader", { start: "earliest" });
  let received = 0;
  let idle = 0;
  let wasIdle = false;
  while (received < count / 2) {
    const m = reader.next();
    if (m === null) {
      wasIdle = true;
      if (++idle % 256 === 0) await Bun.sleep(0);
      continue;
    }
    if (m.seq !== received) throw new Error(`expected seq ${received}, got ${m.seq}`);
    latencies.add(received, m.payload, wasIdle);
    wasIdle = false;
    received++;
  }
  reader.commit();
  return received;
}

async function main(): Promise<void> {
  const [, , first, second, third] = process.argv;
  if (first === "--writer") return runWriter(second!, Number(third));

  const dir = first ?? defaultUserPath("basic");
  const count = Number(second ?? 100_000);
  rmSync(dir, { recursive: true, force: true });

  console.log(`queue: ${dir}`);
  const started = performance.now();
  const child = Bun.spawn(["bun", import.meta.path, "--writer", dir, String(count)], { stdout: "inherit", stderr: "inherit" });

  const latencies = new Latencies(count);
  const firstHalf = await follow(dir, count, latencies);
  console.log(`reader: consumed ${firstHalf} ticks live, committed, closed (simulating a restart)`);

  // A restarted reader resumes right after the committed position.
  using reader = Queue.openSubscriber(dir, "demo-reader");
  let received = firstHalf;
  let idle = 0;
  let wasIdle = false;
  while (received < count) {
    const m = reader.next();
    if (m === null) {
      if (child.exitCode !== null && child.exitCode !== 0) throw new Error(`writer exited with ${child.exitCode}`);
      wasIdle = true;
      if (++idle % 256 === 0) await Bun.sleep(0);
      continue;
    }
    if (m.seq !== received) throw new Error(`resume: expected seq ${received}, got ${m.seq}`);
    latencies.add(received, m.payload, wasIdle);
    wasIdle = false;
    received++;
  }
  reader.commit();
  const code = await child.exited;
  const elapsedMs = performance.now() - started;

  console.log(`reader: resumed at seq ${firstHalf} and read up to seq ${received - 1}; all ${received} records verified in order`);
  console.log(`writer exit code: ${code}`);
  console.log(`elapsed: ${elapsedMs.toFixed(0)} ms for ${count} ticks of ${TICK_SIZE} bytes (writer pauses 1 ms every 1000)`);
  for (const line of latencies.report()) console.log(line);
  if (code !== 0) process.exit(1);
}

await main();
