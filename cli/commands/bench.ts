import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "../../src/index.ts";
import { monotonicNs } from "../../src/ffi/index.ts";
import { intFlag, json, parseArgs, table } from "../output.ts";
import type { Command } from "../command.ts";

export const benchHelp = `usage: chronicle bench [--size N] [--count N] [--json]

A local smoke test on a temp directory: append and read throughput in this process, and
one-way latency from a writer process to a waiting reader (hybrid futex wait).
  --size N    payload bytes (default 64)
  --count N   messages for the throughput run, at least 1 (default 1000000)
  --json      machine-readable output`;

const LATENCY_SAMPLES = 2000;

export async function bench(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ["--size", "--count", "--child"], ["--json"], 0);
  const child = args.flags.get("--child");
  if (typeof child === "string") return latencyWriter(child);
  const size = intFlag(args, "--size", 64);
  // At least one message: the rates divide by the time the messages took.
  const count = intFlag(args, "--count", 1_000_000, 1);
  const dir = mkdtempSync(join(tmpdir(), "chronicle-bench-"));
  try {
    // Progress on stderr, so that stdout (the table or the JSON) stays clean for a pipe.
    process.stderr.write(`bench: append and read ${count} messages of ${size} B...\n`);
    const rates = throughput(join(dir, "tp"), size, count);
    process.stderr.write(`bench: one-way latency, ${LATENCY_SAMPLES} samples from a writer process...\n`);
    const results = { size, count, ...rates, ...(await latency(join(dir, "lat"))) };
    if (args.flags.has("--json")) console.log(json(results));
    else {
      console.log(`payload ${size} B, ${count} messages; latency over ${LATENCY_SAMPLES} samples\n`);
      console.log(table(["measure", "value"], [
        ["append", `${(results.appendPerSec / 1e6).toFixed(2)} M msg/s  ${(results.appendPerSec * size / 1e6).toFixed(0)} MB/s`],
        ["read (CRC checked)", `${(results.readPerSec / 1e6).toFixed(2)} M msg/s  ${(results.readPerSec * size / 1e6).toFixed(0)} MB/s`],
        ["one-way latency p50", `${results.latencyUs.p50.toFixed(1)} µs`],
        ["one-way latency p99", `${results.latencyUs.p99.toFixed(1)} µs`],
        ["one-way latency max", `${results.latencyUs.max.toFixed(1)} µs`],
      ]));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

function throughput(dir: string, size: number, count: number): { appendPerSec: number; readPerSec: number } {
  using writer = Queue.openPublisher(dir);
  using reader = Queue.openAnonymous(dir);
  const payload = new Uint8Array(size).fill(7);
  let t0 = performance.now();
  for (let i = 0; i < count; i++) writer.append(1, payload);
  const appendMs = performance.now() - t0;
  let n = 0;
  t0 = performance.now();
  for (let m = reader.next(); m !== null; m = reader.next()) n += m.length;
  const readMs = performance.now() - t0;
  return { appendPerSec: (count / appendMs) * 1000, readPerSec: (count / readMs) * 1000 };
}

async function latency(dir: string): Promise<{ latencyUs: { p50: number; p99: number; max: number } }> {
  Queue.openPublisher(dir, { preallocate: false }).close();
  using reader = Queue.openSubscriber(dir, "bench");
  const proc = Bun.spawn(["bun", join(import.meta.dir, "..", "main.ts"), "bench", "--child", dir], { stdout: "inherit", stderr: "inherit" });
  const samples = new Float64Array(LATENCY_SAMPLES);
  let n = 0;
  while (n < LATENCY_SAMPLES) {
    const m = reader.next();
    if (m === null) {
      if (!reader.wait(5000)) throw new Error("bench: the writer process stopped sending");
      continue;
    }
    const sent = new DataView(m.payload.buffer, m.payload.byteOffset, 8).getFloat64(0, true);
    samples[n++] = (monotonicNs() - sent) / 1000;
  }
  await proc.exited;
  samples.sort();
  const at = (p: number): number => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  return { latencyUs: { p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1]! } };
}

/** Child side: one timestamped record every 200 µs or so. */
async function latencyWriter(dir: string): Promise<number> {
  using writer = Queue.openPublisher(dir, { preallocate: false });
  const payload = new Uint8Array(64);
  const view = new DataView(payload.buffer);
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const until = performance.now() + 0.2;
    while (performance.now() < until);
    // CLOCK_MONOTONIC is one clock for both processes; each process's timeOrigin is its own estimate.
    view.setFloat64(0, monotonicNs(), true);
    writer.append(1, payload);
    if (i % 100 === 99) await Bun.sleep(0);
  }
  return 0;
}

/** `chronicle bench`. */
export const command: Command = { name: "bench", summary: "local throughput and latency smoke test", usage: benchHelp, run: bench };
