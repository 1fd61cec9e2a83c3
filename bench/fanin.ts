/**
 * Fan-in throughput with 1, 4 and 16 sources, and discovery latency from READY appearing to the
 * Added event.
 *
 *   bun run bench/fanin.ts [--quick]
 *
 * Throughput: each source queue is filled first (64-byte payloads, timestamps interleaved across
 * sources), then one FanInReader drains all of them; the figure is merged records per second,
 * CRC checked. Discovery: a strategy directory with a queue is prepared, then READY is written
 * (READY.tmp + rename) and the time until RouterDiscovery reports Added is measured, both with a
 * poll() loop and with the async iterator (inotify through the event loop).
 */
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BusLayout, FanInReader, Queue, RouterDiscovery } from "../src/index.ts";
import { pct } from "./table.ts";

const quick = process.argv.includes("--quick");
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-fanin-"));

function fanInThroughput(sources: number, total: number): number {
  const dir = join(root, `fan${sources}`);
  const perSource = Math.floor(total / sources);
  const payload = new Uint8Array(64).fill(3);
  for (let s = 0; s < sources; s++) {
    using w = Queue.openPublisher(join(dir, String(s)), { segmentSize: 64 << 20, preallocate: false });
    for (let i = 0; i < perSource; i++) w.append(1, payload, BigInt(i * sources + s));
  }
  using fan = new FanInReader();
  for (let s = 0; s < sources; s++) fan.addReader(Queue.openAnonymous(join(dir, String(s))));
  let n = 0;
  let bytes = 0;
  const t0 = Bun.nanoseconds();
  for (let m = fan.next(); m !== null; m = fan.next()) {
    n++;
    bytes += m.message.length;
  }
  const ns = Bun.nanoseconds() - t0;
  if (n !== perSource * sources || bytes !== n * 64) throw new Error(`fan-in delivered ${n} of ${perSource * sources}`);
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
  return samples.sort();
}

try {
  const total = quick ? 200_000 : 2_000_000;
  console.log(`## Fan-in throughput (${total} records of 64 bytes in total, CRC checked)\n`);
  console.log("| sources | merged M msg/s |");
  console.log("|---|---|");
  for (const sources of [1, 4, 16]) console.log(`| ${sources} | ${(fanInThroughput(sources, total) / 1e6).toFixed(2)} |`);

  const trials = quick ? 30 : 200;
  console.log(`\n## Discovery latency, READY rename to Added (${trials} strategies)\n`);
  console.log("| mode | p50 µs | p99 µs | max µs |");
  console.log("|---|---|---|---|");
  for (const mode of ["poll", "async"] as const) {
    const s = await discoveryLatency(trials, mode);
    console.log(`| ${mode === "poll" ? "poll() loop" : "async iterator"} | ${pct(s, 0.5).toFixed(0)} | ${pct(s, 0.99).toFixed(0)} | ${s[s.length - 1].toFixed(0)} |`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
