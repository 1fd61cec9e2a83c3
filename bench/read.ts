/**
 * The read side, against a bare protocol loop measured in the same run.
 *
 *   bun run bench:read [--quick]
 *
 * 1. Decode: a queue of 64 B / 256 B / 1 KiB records (128 MiB of records each; 32 MiB with
 *    --quick) is read from the start, every record CRC-checked and two payload fields decoded in
 *    place (a float64 and a u32). "bare loop" does the same protocol work on its own read-only
 *    mappings of the segment files (plain commit-word load, the same CRC choice, DataView reads),
 *    with none of the API; "next()" and "poll()" go through a QueueReader. 5 passes each
 *    (3 with --quick), interleaved; median and min–max; heap objects allocated per record during
 *    one extra pass (no GC can run in between: the count is exact for a pass that allocates nothing).
 * 2. Replay: a queue of 1 GiB (256 MiB with --quick) of 1 KiB records, synced with flushSync, is
 *    read by a fresh reader: GB/s, minor page faults per MiB read, and the growth of the system's
 *    Dirty page cache (from /proc/meminfo) while reading, which is 0 when readers write nothing.
 */
import { heapStats, fullGC } from "bun:jsc";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, type MessageView } from "../src/index.ts";
import { Mapping } from "../src/ffi/index.ts";
import { payloadCrc } from "../src/queue/crc32.ts";
import { listSegmentIds, segmentPath } from "../src/queue/segment.ts";
import { COMMIT_W, CRC_W, PAYLOAD_OFF, SEGMENT_HEADER_SIZE, recordLength } from "../src/queue/layout/index.ts";
import { Progress, note, printTable } from "./output.ts";
import { median } from "./stats.ts";

const quick = process.argv.includes("--quick");
const SIZES = [64, 256, 1024];
const DECODE_BYTES = (quick ? 32 : 128) << 20;
const REPLAY_BYTES = (quick ? 256 : 1024) << 20;
const PASSES = quick ? 3 : 5;
const SEGMENT = 64 << 20;
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-read-"));

/** Writes `count` records of `size` bytes (a float64 and a u32 at the start of each payload), synced. */
function writeQueue(dir: string, size: number, count: number): void {
  using w = Queue.openPublisher(dir, { segmentSize: SEGMENT });
  const payload = new Uint8Array(size).fill(7);
  const data = new DataView(payload.buffer);
  for (let i = 0; i < count; i++) {
    data.setFloat64(0, i, true);
    data.setUint32(8, i, true);
    w.append(1, payload);
  }
  w.flushSync();
}

let sink = 0;
/** The bare loop's private fence word (the same fence the reader uses). */
const FENCE = new Int32Array(1);

/** The same work as a QueueReader pass, on bare read-only mappings: the baseline. */
function bareLoop(dir: string): number {
  const window = Mapping.reserve(SEGMENT);
  const u8 = window.u8;
  const u32 = window.u32;
  const data = window.data;
  let n = 0;
  try {
    for (const id of listSegmentIds(dir)) {
      const fd = openSync(segmentPath(dir, id), "r");
      window.mapFile(fd, "", false);
      closeSync(fd);
      for (let o = SEGMENT_HEADER_SIZE; o + 64 <= SEGMENT;) {
        const c = u32[(o >> 2) + COMMIT_W]!;
        Atomics.add(FENCE, 0, 0);
        if (c === 0) break;
        const length = c - 1;
        const p = o + PAYLOAD_OFF;
        const crc = payloadCrc(u32, u8, p, length);
        if (crc !== u32[(o >> 2) + CRC_W]) throw new Error("crc");
        sink += data.getFloat64(p, true) + data.getUint32(p + 8, true);
        n++;
        o += recordLength(length);
      }
    }
  } finally {
    window.unmap();
  }
  return n;
}

function decode(m: MessageView): void {
  sink += m.data.getFloat64(m.payloadOffset, true) + m.data.getUint32(m.payloadOffset + 8, true);
}

function withNext(dir: string): number {
  using r = Queue.openAnonymous(dir);
  let n = 0;
  for (let m = r.next(); m !== null; m = r.next()) {
    decode(m);
    n++;
  }
  return n;
}

function withPoll(dir: string): number {
  using r = Queue.openAnonymous(dir);
  let n = 0;
  for (let k = r.poll(decode, 4096); k > 0; k = r.poll(decode, 4096)) n += k;
  return n;
}

const WAYS: [string, (dir: string) => number][] = [["bare loop", bareLoop], ["next()", withNext], ["poll()", withPoll]];

function objectCount(): number {
  return Object.values(heapStats().objectTypeCounts).reduce((a, b) => a + b, 0);
}

const progress = new Progress(SIZES.length * (PASSES + 1) + 1);
const rows: string[][] = [];
for (const size of SIZES) {
  const dir = join(root, `decode-${size}`);
  const count = Math.floor(DECODE_BYTES / recordLength(size));
  writeQueue(dir, size, count);
  const times = new Map<string, number[]>(WAYS.map(([name]) => [name, []]));
  for (let pass = 0; pass < PASSES; pass++) {
    for (const [name, way] of WAYS) {
      const t0 = Bun.nanoseconds();
      if (way(dir) !== count) throw new Error(`${name} read a different count`);
      times.get(name)!.push((Bun.nanoseconds() - t0) / count);
    }
    progress.step(`decode ${size} B pass ${pass + 1}/${PASSES}`);
  }
  const allocs = new Map<string, number>();
  for (const [name, way] of WAYS) {
    fullGC();
    const before = objectCount();
    way(dir);
    allocs.set(name, (objectCount() - before) / count);
  }
  progress.step(`decode ${size} B allocation pass`);
  const bare = median(times.get("bare loop")!);
  for (const [name] of WAYS) {
    const ns = times.get(name)!;
    const m = median(ns);
    rows.push([
      String(size), name, (1e3 / m).toFixed(2), (size / m).toFixed(2),
      m.toFixed(0), `${Math.min(...ns).toFixed(0)}–${Math.max(...ns).toFixed(0)}`, (bare / m).toFixed(2) + "x", allocs.get(name)!.toFixed(3),
    ]);
  }
  rmSync(dir, { recursive: true, force: true });
}

console.log(`# Read side (Bun ${Bun.version}, ${process.arch})\n`);
console.log(`Decode: ${DECODE_BYTES >> 20} MiB of records per size, CRC-checked, two fields decoded in place; ${PASSES} passes, median (min–max).\n`);
printTable(["payload B", "way", "M msg/s", "payload GB/s", "ns/msg", "min–max ns", "vs bare loop", "heap objects/msg"], rows);

/** Dirty page cache of the whole system, bytes. */
function dirtyBytes(): number {
  const m = /Dirty:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) * 1024 : NaN;
}

{
  const dir = join(root, "replay");
  const size = 1024;
  const count = Math.floor(REPLAY_BYTES / recordLength(size));
  note(`writing and syncing ${REPLAY_BYTES >> 20} MiB for the replay`);
  writeQueue(dir, size, count);
  const mtimes = listSegmentIds(dir).map((id) => statSync(segmentPath(dir, id)).mtimeMs);
  const faults0 = process.resourceUsage().minorPageFault;
  const dirty0 = dirtyBytes();
  const t0 = Bun.nanoseconds();
  const n = withNext(dir);
  const seconds = (Bun.nanoseconds() - t0) / 1e9;
  const faults = process.resourceUsage().minorPageFault - faults0;
  const dirtyGrowth = dirtyBytes() - dirty0;
  const mib = (n * recordLength(size)) / 2 ** 20;
  const unchanged = listSegmentIds(dir).every((id, i) => statSync(segmentPath(dir, id)).mtimeMs === mtimes[i]);
  progress.step("replay");
  console.log(`\nReplay: a fresh reader reads ${mib.toFixed(0)} MiB of synced 1 KiB records (${n} records), one pass.\n`);
  printTable(["GB/s", "minor faults / MiB", "Dirty growth (system)", "segment mtimes unchanged"], [
    [((n * recordLength(size)) / seconds / 1e9).toFixed(2), (faults / mib).toFixed(2), `${(dirtyGrowth / 2 ** 20).toFixed(1)} MiB`, String(unchanged)],
  ]);
}
rmSync(root, { recursive: true, force: true });
if (sink === 0) throw new Error("read nothing");
