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

async function follow(dir: string, count: number, latenciesUs: Float64Array): Promise<number> {
  using reader = Queue.openSubscriber(dir, "demo-reader", { start: "earliest" });
  let received = 0;
  let idle = 0;
  while (received < count / 2) {
    const m = reader.next();
    if (m === null) {
      if (++idle % 256 === 0) await Bun.sleep(0);
      continue;
    }
    if (m.seq !== received) throw new Error(`expected seq ${received}, got ${m.seq}`);
    latenciesUs[received] = latencyUs(m.payload);
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

  const latenciesUs = new Float64Array(count);
  const firstHalf = await follow(dir, count, latenciesUs);
  console.log(`reader: consumed ${firstHalf} ticks live, committed, closed (simulating a restart)`);

  // A restarted reader resumes right after the committed position.
  using reader = Queue.openSubscriber(dir, "demo-reader");
  let received = firstHalf;
  let idle = 0;
  while (received < count) {
    const m = reader.next();
    if (m === null) {
      if (child.exitCode !== null && child.exitCode !== 0) throw new Error(`writer exited with ${child.exitCode}`);
      if (++idle % 256 === 0) await Bun.sleep(0);
      continue;
    }
    if (m.seq !== received) throw new Error(`resume: expected seq ${received}, got ${m.seq}`);
    latenciesUs[received] = latencyUs(m.payload);
    received++;
  }
  reader.commit();
  const code = await child.exited;
  const elapsedMs = performance.now() - started;

  const sorted = latenciesUs.slice().sort();
  console.log(`reader: resumed at seq ${firstHalf} and read up to seq ${received - 1}; all ${received} records verified in order`);
  console.log(`writer exit code: ${code}`);
  console.log(`elapsed: ${elapsedMs.toFixed(0)} ms for ${count} ticks of ${TICK_SIZE} bytes (writer pauses 1 ms every 1000)`);
  console.log(
    `one-way latency (writer append -> reader next), µs: p50 ${percentile(sorted, 50).toFixed(1)}  p99 ${percentile(sorted, 99).toFixed(1)}  max ${sorted[sorted.length - 1]!.toFixed(1)}`,
  );
  if (code !== 0) process.exit(1);
}

await main();
