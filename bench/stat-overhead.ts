/**
 * Does `chronicle stat` slow a writer down? Append throughput of one writer alone, and while a
 * `chronicle stat` process samples its queue at the default interval (1 s) and at ten times that
 * rate (100 ms), in the same run. 10,000,000 appends of 64 bytes per case, 3 runs, the order of
 * the cases rotating between runs; a progress line per case on stderr.
 *
 *   bun run bench:stat-overhead
 *
 * Each sample walks the record headers appended since the previous one: it reads cache lines
 * the writer has just written, on another core. The table shows what that costs the writer.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "../src/index.ts";
import { printTable, Progress } from "./output.ts";
import { median } from "./stats.ts";

const RUNS = 3;
const CASES = [null, "1s", "100ms"] as const;
type Interval = (typeof CASES)[number];
const COUNT = 10_000_000;
const SIZE = 64;
const CLI = join(import.meta.dir, "..", "cli", "main.ts");
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-stat-"));

/** Appends COUNT records; with an interval, while a stat process samples the queue that often. Returns msgs/s and the samples stat took. */
async function run(dir: string, interval: Interval): Promise<{ perSec: number; samples: number }> {
  using writer = Queue.openPublisher(dir, { segmentSize: 64 << 20, autoCleanup: true });
  const payload = new Uint8Array(SIZE).fill(7);
  const stat = interval !== null ? Bun.spawn(["bun", CLI, "stat", dir, "--json", "--interval", interval], { stdout: "pipe", stderr: "inherit" }) : null;
  const reader = stat?.stdout.getReader() ?? null;
  const decoder = new TextDecoder();
  // Timed only once stat has printed its first sample: it is running and sampling.
  let out = reader === null ? "" : decoder.decode((await reader.read()).value);
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) writer.append(1, payload);
  const seconds = (performance.now() - t0) / 1000;
  if (stat !== null && reader !== null) {
    stat.kill("SIGINT");
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += decoder.decode(r.value);
    await stat.exited;
  }
  const samples = out.split("\n").filter((l) => l !== "").length;
  return { perSec: COUNT / seconds, samples };
}

try {
  console.log("# Append throughput with and without chronicle stat sampling the queue");
  console.log(`Bun ${Bun.version}, ${process.arch}, ${navigator.hardwareConcurrency} cores; ${COUNT.toLocaleString("en-US")} appends of ${SIZE} B per case, ${RUNS} runs.\n`);
  const progress = new Progress(RUNS * CASES.length);
  const rates = new Map<Interval, number[]>(CASES.map((c) => [c, []]));
  const samples = new Map<Interval, number[]>(CASES.map((c) => [c, []]));
  const label = (c: Interval): string => (c === null ? "writer alone" : `with stat --interval ${c}`);
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < CASES.length; k++) {
      const c = CASES[(k + r) % CASES.length]!;
      const dir = join(root, `r${r}-${k}`);
      const res = await run(dir, c);
      rmSync(dir, { recursive: true, force: true });
      rates.get(c)!.push(res.perSec);
      samples.get(c)!.push(res.samples);
      progress.step(`run ${r + 1}  ${label(c).padEnd(26)} ${(res.perSec / 1e6).toFixed(2)} M msg/s${c === null ? "" : `  (${res.samples} samples)`}`);
    }
  }
  const m = (x: number): string => (x / 1e6).toFixed(2);
  const alone = median(rates.get(null)!);
  printTable(["case", "stat samples per run", "M msg/s per run", "median", "range", "vs alone"], CASES.map((c) => {
    const xs = rates.get(c)!;
    return [label(c), c === null ? "-" : samples.get(c)!.join(", "), xs.map(m).join(", "), m(median(xs)), `${m(Math.min(...xs))}–${m(Math.max(...xs))}`, (median(xs) / alone).toFixed(2)];
  }));
} finally {
  rmSync(root, { recursive: true, force: true });
}
