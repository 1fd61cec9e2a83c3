/**
 * Append and read throughput in one process (mitata; 1000 messages per measured iteration).
 *
 *   bun run bench [--quick]
 *
 * Payloads 64, 256 and 1024 bytes; format v2 (64 MiB segments) and v1 (1 MiB segments, a futex
 * wake per append as the Rust readers need); append, claim (and claimAt) + commitClaim, and reading with and
 * without the CRC check. Baselines measured in the same run: `fs.writeSync` of each message to an
 * append-only file (the naive persisted log: one syscall per message) and copying each payload
 * into an in-memory buffer (the memory-bandwidth ceiling). Ratios are against `fs.writeSync`.
 * Each row gives the median over mitata's samples (one sample: one call of BATCH messages), the
 * p25–p75 spread over them and their count; a progress line per row goes to stderr.
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measure } from "mitata";
import { Queue, type PublisherOptions, type QueueReader } from "../src/index.ts";
import { printTable, Progress } from "./output.ts";

const quick = process.argv.includes("--quick");
const BATCH = 1000;
const SIZES = [64, 256, 1024];
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-throughput-"));
let queues = 0;

interface Rate {
  perSec: number;
  /** Median, 25th and 75th percentile over the samples. */
  nsPerMsg: number;
  p25: number;
  p75: number;
  samples: number;
}

/** Runs `batch` (which handles BATCH messages) under mitata and returns the per-message rate. */
async function rate(batch: () => void): Promise<Rate> {
  const stats = await measure(batch, { min_cpu_time: (quick ? 150 : 600) * 1e6, warmup_samples: 5 });
  const nsPerMsg = stats.p50 / BATCH;
  return { perSec: 1e9 / nsPerMsg, nsPerMsg, p25: stats.p25 / BATCH, p75: stats.p75 / BATCH, samples: stats.samples.length };
}

function freshDir(): string {
  return join(root, `q${queues++}`);
}

/** autoCleanup keeps disk use bounded: nothing registered reads these queues. */
function openWriter(version: 1 | 2) {
  const opts: PublisherOptions = version === 1 ? { formatVersion: 1, autoCleanup: true } : { segmentSize: 64 << 20, autoCleanup: true };
  const writer = Queue.openPublisher(freshDir(), opts);
  Bun.sleepSync(100); // the preparer builds the first spare segment, as in a writer that has been running
  return writer;
}

async function appendRate(version: 1 | 2, size: number): Promise<Rate> {
  using writer = openWriter(version);
  const payload = new Uint8Array(size).fill(7);
  // `return await`: the writer must outlive the measurement (`using` disposes it on return).
  return await rate(() => {
    for (let i = 0; i < BATCH; i++) writer.append(1, payload);
  });
}

async function claimRate(size: number): Promise<Rate> {
  using writer = openWriter(2);
  return await rate(() => {
    for (let i = 0; i < BATCH; i++) {
      const area = writer.claim(1, size);
      area[0] = i;
      area[size - 1] = i;
      writer.commitClaim();
    }
  });
}

async function claimAtRate(size: number): Promise<Rate> {
  using writer = openWriter(2);
  return await rate(() => {
    for (let i = 0; i < BATCH; i++) {
      const at = writer.claimAt(1, size);
      const bytes = writer.claimBuffer;
      bytes[at] = i;
      bytes[at + size - 1] = i;
      writer.commitClaim();
    }
  });
}

async function readRate(size: number, verifyCrc: boolean): Promise<Rate> {
  const dir = freshDir();
  const count = Math.min(1_000_000, Math.floor((quick ? 64 : 256) * 2 ** 20 / (size + 64)));
  {
    using writer = Queue.openPublisher(dir, { segmentSize: 64 << 20 });
    const payload = new Uint8Array(size).fill(7);
    for (let i = 0; i < count; i++) writer.append(1, payload);
  }
  let reader: QueueReader = Queue.openAnonymous(dir, { verifyCrc });
  let sink = 0;
  try {
    return await rate(() => {
      for (let i = 0; i < BATCH; i++) {
        let m = reader.next();
        if (m === null) {
          reader.close();
          reader = Queue.openAnonymous(dir, { verifyCrc });
          m = reader.next()!;
        }
        sink += m.length;
      }
    });
  } finally {
    reader.close();
    rmSync(dir, { recursive: true, force: true });
    if (sink === 0) throw new Error("read nothing");
  }
}

async function writeSyncRate(size: number): Promise<Rate> {
  const path = join(root, `log${queues++}`);
  const fd = openSync(path, "a");
  const payload = new Uint8Array(size).fill(7);
  let written = 0;
  try {
    return await rate(() => {
      for (let i = 0; i < BATCH; i++) written += writeSync(fd, payload);
      if (written > 256 * 2 ** 20) {
        closeSync(openSync(path, "w"));
        written = 0;
      }
    });
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

async function memcpyRate(size: number): Promise<Rate> {
  const ring = new Uint8Array(64 << 20);
  const payload = new Uint8Array(size).fill(7);
  let at = 0;
  return rate(() => {
    for (let i = 0; i < BATCH; i++) {
      if (at + size > ring.length) at = 0;
      ring.set(payload, at);
      at += size;
    }
  });
}

/** The rows of each payload size, in order; the first is the baseline of the ratios. */
const CASES: [string, (size: number) => Promise<Rate>][] = [
  ["baseline: fs.writeSync per message", writeSyncRate],
  ["ceiling: copy into memory", memcpyRate],
  ["append v2", (size) => appendRate(2, size)],
  ["claim + commitClaim v2", claimRate],
  ["claimAt + commitClaim v2 (no allocation)", claimAtRate],
  ["append v1 (futex wake per append)", (size) => appendRate(1, size)],
  ["read, CRC checked", (size) => readRate(size, true)],
  ["read, no CRC check", (size) => readRate(size, false)],
];

const fmt = (r: Rate, size: number, baseline: Rate): string[] => [
  (r.perSec / 1e6).toFixed(2),
  ((r.perSec * size) / 1e6).toFixed(0),
  r.nsPerMsg.toFixed(0),
  `${r.p25.toFixed(0)}–${r.p75.toFixed(0)}`,
  String(r.samples),
  `${(r.perSec / baseline.perSec).toFixed(1)}x`,
];

try {
  console.log(`# chronicle throughput, one process (${quick ? "quick" : "full"} run)`);
  console.log(`Bun ${Bun.version}, ${process.arch}; ${BATCH} messages per sample, median of samples (p25–p75 spread over them).\n`);
  const progress = new Progress(SIZES.length * CASES.length);
  const rows: string[][] = [];
  for (const size of SIZES) {
    let baseline: Rate | null = null;
    for (const [label, run] of CASES) {
      const r = await run(size);
      baseline ??= r;
      rows.push([String(size), label, ...fmt(r, size, baseline)]);
      progress.step(`${String(size).padStart(4)} B  ${label.padEnd(40)} ${(r.perSec / 1e6).toFixed(2)} M msg/s`);
    }
  }
  printTable(["payload B", "operation", "M msg/s", "MB/s", "ns/msg", "ns/msg p25–p75", "samples", "vs writeSync"], rows);
} finally {
  rmSync(root, { recursive: true, force: true });
}
