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
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measure } from "mitata";
import { Queue, type PublisherOptions, type QueueReader } from "../src/index.ts";
import { printTable } from "./table.ts";

const quick = process.argv.includes("--quick");
const BATCH = 1000;
const SIZES = [64, 256, 1024];
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-throughput-"));
let queues = 0;

interface Rate {
  perSec: number;
  nsPerMsg: number;
}

/** Runs `batch` (which handles BATCH messages) under mitata and returns the per-message rate. */
async function rate(batch: () => void): Promise<Rate> {
  const stats = await measure(batch, { min_cpu_time: (quick ? 150 : 600) * 1e6, warmup_samples: 5 });
  const nsPerMsg = stats.p50 / BATCH;
  return { perSec: 1e9 / nsPerMsg, nsPerMsg };
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

const fmt = (r: Rate, size: number, baseline: Rate): string[] => [
  (r.perSec / 1e6).toFixed(2),
  ((r.perSec * size) / 1e6).toFixed(0),
  r.nsPerMsg.toFixed(0),
  `${(r.perSec / baseline.perSec).toFixed(1)}x`,
];

try {
  console.log(`# chronicle throughput, one process (${quick ? "quick" : "full"} run)`);
  console.log(`Bun ${Bun.version}, ${process.arch}; ${BATCH} messages per measured iteration, median of iterations.\n`);
  const rows: string[][] = [];
  for (const size of SIZES) {
    const baseline = await writeSyncRate(size);
    const cases: [string, Promise<Rate> | Rate][] = [
      ["baseline: fs.writeSync per message", baseline],
      ["ceiling: copy into memory", await memcpyRate(size)],
      ["append v2", await appendRate(2, size)],
      ["claim + commitClaim v2", await claimRate(size)],
      ["claimAt + commitClaim v2 (no allocation)", await claimAtRate(size)],
      ["append v1 (futex wake per append)", await appendRate(1, size)],
      ["read, CRC checked", await readRate(size, true)],
      ["read, no CRC check", await readRate(size, false)],
    ];
    for (const [label, r] of cases) rows.push([String(size), label, ...fmt(await r, size, baseline)]);
  }
  printTable(["payload B", "operation", "M msg/s", "MB/s", "ns/msg", "vs writeSync"], rows);
} finally {
  rmSync(root, { recursive: true, force: true });
}
