/**
 * Seek by seq and by time, seekLast and the seek starts, each result checked against a linear scan
 * of the same queue (every record read from the oldest one) on real files: random payload sizes,
 * many segments, a PAD left by recovery, segments removed by retention, a queue built byte by byte
 * as the Rust reference writes v1, a stale in-memory index, and a named reader across restarts.
 */
import { describe, expect, test } from "bun:test";
import { openSync, readFileSync, writeSync, closeSync } from "node:fs";
import { ClosedError, InvalidArgument, PositionLost, Queue, type QueueReader, type QueueWriter, type SeekResult } from "../src/index.ts";
import { listSegmentIds, segmentPath } from "../src/queue/segment.ts";
import { PADDED, isPad, readableLength } from "../src/queue/layout/index.ts";
import { thrown } from "./helpers/errors.ts";
import { fillPayload, payloadSize } from "./helpers/payloads.ts";
import { checkPayload } from "./helpers/queue.ts";
import { spawnFixture } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";
import { writeV1Queue, type V1Record } from "./helpers/v1Queue.ts";

const SEGMENT = 64 << 10;
const MAX_PAYLOAD = 300;
const T0 = 1_764_000_000_000_000_000n;
/** A test here takes about 0.1-1 s; the bound leaves room for a machine shared with other jobs. */
const TIMEOUT_MS = 30_000;

/** A small seeded PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * n | 0;
  };
}

interface Rec {
  seq: number;
  ts: bigint;
}

let scratch = new Uint8Array(1 << 16);

/**
 * Appends `n` records with the deterministic payloads of payloads.ts (random sizes up to `max`)
 * and timestamps that never go back, stepping by 0..2 ns from `ts` (so some are equal). Returns the next timestamp.
 */
function appendTimed(w: QueueWriter, n: number, ts: bigint, random: (n: number) => number, max = MAX_PAYLOAD): bigint {
  for (let i = 0; i < n; i++) {
    const seq = w.nextSeq;
    w.append(1, fillPayload(seq, scratch.subarray(0, payloadSize(seq, max))), ts);
    ts += BigInt(random(3));
  }
  return ts;
}

/** The linear scan: every record of the queue from its oldest segment. */
function scan(dir: string): Rec[] {
  using r = Queue.openAnonymous(dir);
  const out: Rec[] = [];
  for (let m = r.next(); m !== null; m = r.next()) out.push({ seq: m.seq, ts: m.timestampNs });
  return out;
}

/** Checks `landed` and the next records of `r` against the scan, where the answer is records[i] (-1: the head). */
function expectLanding(r: QueueReader, records: Rec[], i: number, landed: SeekResult, max: number, what: string): void {
  if (i < 0) {
    const head = records.length === 0 ? 0 : records[records.length - 1]!.seq + 1;
    expect({ what, landed }).toEqual({ what, landed: { seq: head, atHead: true } });
    expect({ what, next: r.next() }).toEqual({ what, next: null });
    return;
  }
  expect({ what, landed }).toEqual({ what, landed: { seq: records[i]!.seq, atHead: false } });
  // The position is a true record boundary: the records after it follow in order.
  for (let k = i; k < Math.min(records.length, i + 3); k++) {
    const m = r.next();
    expect({ what, seq: m?.seq }).toEqual({ what, seq: records[k]!.seq });
    if (max >= 0) checkPayload(m!, max);
  }
}

/** seek(seq) against the scan: PositionLost below the oldest record, the head past the newest. */
function checkSeq(r: QueueReader, records: Rec[], s: number, max: number): void {
  const oldest = records[0]?.seq ?? 0;
  if (records.length > 0 && s < oldest) {
    const e = thrown(() => r.seek(s));
    expect(e).toBeInstanceOf(PositionLost);
    expect(e).toMatchObject({ seq: s, oldestSeq: oldest });
    return;
  }
  expectLanding(r, records, records.findIndex((x) => x.seq >= s), r.seek(s), max, `seek(${s})`);
}

/** seekTime(t) against the scan: the first record with a timestamp >= t, or the head. */
function checkTime(r: QueueReader, records: Rec[], t: bigint, max: number): void {
  expectLanding(r, records, records.findIndex((x) => x.ts >= t), r.seekTime(t), max, `seekTime(${t})`);
}

/** Many random seqs and times, and the edges, on one reader, each compared with the scan. */
function checkMany(dir: string, records: Rec[], random: (n: number) => number, count: number, max = MAX_PAYLOAD, name: string | null = null): void {
  using r = name === null ? Queue.openAnonymous(dir) : Queue.openSubscriber(dir, name);
  const first = records[0]?.seq ?? 0;
  const last = records[records.length - 1]?.seq ?? 0;
  const seqs = [0, first - 1, first, first + 1, last - 1, last, last + 1, last + 1000];
  for (let k = 0; k < count; k++) seqs.push(first - 3 + random(last - first + 7));
  for (const s of seqs) if (s >= 0) checkSeq(r, records, s, max);
  const t0 = records[0]?.ts ?? T0;
  const t1 = records[records.length - 1]?.ts ?? T0;
  const times = [0n, t0 - 1n, t0, t1, t1 + 1n];
  for (let k = 0; k < count; k++) {
    const pick = records[random(records.length)];
    times.push(pick === undefined ? T0 : pick.ts + BigInt(random(3) - 1));
    times.push(t0 - 2n + BigInt(random(Number(t1 - t0) + 4)));
  }
  for (const t of times) checkTime(r, records, t, max);
}

/** A queue of `n` records in 64 KiB segments (v2), closed; returns its scan. */
function timedQueue(dir: string, n: number, seed: number, options: Parameters<typeof Queue.openPublisher>[1] = { segmentSize: SEGMENT }): Rec[] {
  const random = rng(seed);
  using w = Queue.openPublisher(dir, { preallocate: false, ...options });
  appendTimed(w, n, T0, random);
  return scan(dir);
}

function poke(path: string, at: number, bytes: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, at);
  } finally {
    closeSync(fd);
  }
}

describe("seek against a linear scan", () => {
  test("v2, random payload sizes over ~30 segments: random seqs and times, named and anonymous readers", () => {
    using tmp = new TempDir();
    const records = timedQueue(tmp.path, 6000, 1);
    expect(listSegmentIds(tmp.path).length).toBeGreaterThan(20);
    checkMany(tmp.path, records, rng(2), 400);
    checkMany(tmp.path, records, rng(3), 100, MAX_PAYLOAD, "seeker");
  }, TIMEOUT_MS);

  test("v1 (1 MiB segments) written by this library", () => {
    using tmp = new TempDir();
    const random = rng(4);
    {
      using w = Queue.openPublisher(tmp.path, { formatVersion: 1 });
      appendTimed(w, 4000, T0, random, 1000);
    }
    expect(listSegmentIds(tmp.path).length).toBeGreaterThanOrEqual(3);
    checkMany(tmp.path, scan(tmp.path), rng(5), 200, 1000);
  }, TIMEOUT_MS);

  test("an empty queue: every seek lands at the head, seq 0", () => {
    using tmp = new TempDir();
    using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
    using r = Queue.openAnonymous(tmp.path);
    expect(r.seek(0)).toEqual({ seq: 0, atHead: true });
    expect(r.seek(10)).toEqual({ seq: 0, atHead: true });
    expect(r.seekTime(T0)).toEqual({ seq: 0, atHead: true });
    expect(r.seekLast(5)).toEqual({ seq: 0, atHead: true });
    // At the head, the reader takes what is appended next.
    w.append(1, new Uint8Array(3));
    expect(r.next()?.seq).toBe(0);
  }, TIMEOUT_MS);

  test("a seek at the head follows the writer; the head segment's index grows with it", () => {
    using tmp = new TempDir();
    const random = rng(6);
    using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
    using r = Queue.openAnonymous(tmp.path);
    let ts = T0;
    for (let round = 0; round < 5; round++) {
      ts = appendTimed(w, 150 + random(200), ts, random);
      const records = scan(tmp.path);
      for (let k = 0; k < 40; k++) checkSeq(r, records, random(records.length + 3), MAX_PAYLOAD);
      checkTime(r, records, ts, MAX_PAYLOAD);
    }
  }, TIMEOUT_MS);

  test("a PAD left by recovery over torn bytes, then more segments", () => {
    using tmp = new TempDir();
    const random = rng(7);
    let ts = T0;
    let torn: { segment: number; offset: number };
    {
      using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
      ts = appendTimed(w, 700, ts, random);
      torn = { segment: w.currentSegment, offset: w.writeOffset };
    }
    // What a writer killed between header and commit leaves: header bytes after the log end, commit word 0.
    poke(segmentPath(tmp.path, torn.segment), torn.offset + 8, new Uint8Array([0x2a, 0, 0, 0, 0, 0, 0, 0, 0xff]));
    {
      using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
      appendTimed(w, 700, ts, random);
    }
    const seg = new Uint32Array(readFileSync(segmentPath(tmp.path, torn.segment)).buffer.slice(0));
    expect(readableLength(seg, torn.offset, SEGMENT)).toBe(PADDED);
    expect(isPad(seg, torn.offset)).toBe(true);
    const records = scan(tmp.path);
    expect(records.length).toBe(1400);
    checkMany(tmp.path, records, rng(8), 200);
    // The seq right after the PAD is the first record of the next segment.
    using r = Queue.openAnonymous(tmp.path);
    expect(r.seek(700)).toEqual({ seq: 700, atHead: false });
    expect(r.next()?.segment).toBe(torn.segment + 1);
  }, TIMEOUT_MS);

  test("retention removed the oldest segments: older seqs are PositionLost with the oldest seq; times before land on the oldest", () => {
    using tmp = new TempDir();
    const random = rng(9);
    using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
    let ts = appendTimed(w, 2000, T0, random);
    expect(w.cleanup().length).toBeGreaterThan(5);
    ts = appendTimed(w, 2000, ts, random);
    const records = scan(tmp.path);
    expect(records[0]!.seq).toBeGreaterThan(1000);
    checkMany(tmp.path, records, rng(10), 200);
    using r = Queue.openAnonymous(tmp.path);
    const e = thrown(() => r.seek(5)) as PositionLost;
    expect(e).toMatchObject({ name: "PositionLost", seq: 5, oldestSeq: records[0]!.seq, segment: -1 });
    // A failed seek leaves the position alone.
    expect(r.next()?.seq).toBe(records[0]!.seq);
    // seekLast of more records than retained starts at the oldest.
    expect(r.seekLast(1_000_000)).toEqual({ seq: records[0]!.seq, atHead: false });
    // Retention while a reader has seeked (and indexed) the segments it deletes.
    r.seek(records[records.length - 1]!.seq);
    w.cleanup();
    appendTimed(w, 50, ts, random);
    checkMany(tmp.path, scan(tmp.path), rng(11), 50);
  }, TIMEOUT_MS);

  test("a v1 queue built byte by byte as the Rust reference writes it", () => {
    using tmp = new TempDir();
    const random = rng(12);
    const written: V1Record[] = [];
    let ts = T0;
    for (let seq = 0; seq < 3000; seq++) {
      written.push({ seq, timestampNs: ts, typeId: 1 + random(5), payload: fillPayload(seq, new Uint8Array(payloadSize(seq, 1500))) });
      ts += BigInt(random(3));
    }
    expect(writeV1Queue(tmp.path, written)).toBeGreaterThanOrEqual(3);
    const records = scan(tmp.path);
    expect(records.map((x) => x.seq)).toEqual(written.map((x) => x.seq));
    checkMany(tmp.path, records, rng(13), 200, 1500);
  }, TIMEOUT_MS);

  test("a v1 reference queue whose seq restarted at 0 (the reference does at every open): seeks land on a crossing, never fail", () => {
    using tmp = new TempDir();
    const written: V1Record[] = [];
    for (let i = 0; i < 3000; i++) {
      const seq = i < 2000 ? i : i - 2000;
      written.push({ seq, timestampNs: T0 + BigInt(i), typeId: 1, payload: new Uint8Array(400 + (i % 200)) });
    }
    writeV1Queue(tmp.path, written);
    using r = Queue.openAnonymous(tmp.path);
    const random = rng(14);
    for (let k = 0; k < 200; k++) {
      const s = random(2100);
      const landed = r.seek(s);
      const m = r.next();
      if (landed.atHead) expect(m).toBeNull();
      else expect({ s, seq: m?.seq, landed: landed.seq }).toEqual({ s, seq: landed.seq, landed: landed.seq });
      if (m !== null) expect(m.seq).toBeGreaterThanOrEqual(s);
    }
    // Time is still monotonic: seekTime is exact.
    checkTime(r, scan(tmp.path), T0 + 2500n, -1);
  }, TIMEOUT_MS);

  test("timestamps that went back: seekTime lands on a record at or after t right after one before t (or the first), never loops or throws", () => {
    using tmp = new TempDir();
    const random = rng(15);
    {
      using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
      for (let i = 0; i < 3000; i++) w.append(1, new Uint8Array(random(200)), T0 + BigInt(random(1000)));
    }
    const records = scan(tmp.path);
    using r = Queue.openAnonymous(tmp.path);
    for (let k = 0; k < 300; k++) {
      const t = T0 + BigInt(random(1100)) - 50n;
      const landed = r.seekTime(t);
      const m = r.next();
      if (landed.atHead) {
        expect(m).toBeNull();
        continue;
      }
      expect(m!.timestampNs).toBeGreaterThanOrEqual(t);
      const i = records.findIndex((x) => x.seq === m!.seq);
      if (i > 0) expect(records[i - 1]!.ts).toBeLessThan(t);
    }
  }, TIMEOUT_MS);

  test("a stale index (the segment files replaced under a reader that indexed them) changes no result", () => {
    using tmp = new TempDir();
    const a = tmp.join("a");
    const b = tmp.join("b");
    const recordsA = timedQueue(a, 3000, 16);
    // The same segment count with other payload sizes and later timestamps.
    const random = rng(17);
    {
      using w = Queue.openPublisher(b, { segmentSize: SEGMENT, preallocate: false });
      appendTimed(w, 50, T0 + 5000n, random, 100);
      while (w.currentSegment < listSegmentIds(a).length - 1) appendTimed(w, 1, T0 + 9000n, random, 100);
    }
    expect(listSegmentIds(b)).toEqual(listSegmentIds(a));
    using r = Queue.openAnonymous(a);
    const warm = rng(18);
    for (let k = 0; k < 300; k++) checkSeq(r, recordsA, warm(3000), MAX_PAYLOAD);
    // Overwritten in place (no truncation: the reader has one of them mapped).
    for (const id of listSegmentIds(b)) poke(segmentPath(a, id), 0, new Uint8Array(readFileSync(segmentPath(b, id))));
    const recordsB = scan(a);
    expect(recordsB.length).not.toBe(recordsA.length);
    const check = rng(19);
    const last = recordsB[recordsB.length - 1]!.seq;
    for (let k = 0; k < 300; k++) checkSeq(r, recordsB, check(last + 2), 100);
    for (let k = 0; k < 100; k++) checkTime(r, recordsB, recordsB[check(recordsB.length)]!.ts, 100);
  }, TIMEOUT_MS);

  test("index entries gone stale behind a first record that still matches: each is checked, and the segment is scanned again", () => {
    using tmp = new TempDir();
    const a = tmp.join("a");
    const b = tmp.join("b");
    const MIB = 1 << 20;
    // One 1 MiB segment (the writer's head), about 150 index entries: the same first 200 records in both queues, then others.
    const build = (dir: string, tailMax: number): void => {
      using w = Queue.openPublisher(dir, { segmentSize: MIB, preallocate: false });
      const random = rng(25);
      const ts = appendTimed(w, 200, T0, random, 150);
      appendTimed(w, 4800, ts + 7n, rng(26), tailMax);
    };
    build(a, 150);
    build(b, 40);
    expect(listSegmentIds(a)).toEqual([0]);
    using r = Queue.openAnonymous(a);
    const recordsA = scan(a);
    const warm = rng(27);
    for (let k = 0; k < 200; k++) checkSeq(r, recordsA, warm(recordsA.length), -1);
    poke(segmentPath(a, 0), 0, new Uint8Array(readFileSync(segmentPath(b, 0))));
    const recordsB = scan(a);
    expect(recordsB.slice(0, 200)).toEqual(recordsA.slice(0, 200));
    const check = rng(28);
    for (let k = 0; k < 200; k++) checkSeq(r, recordsB, 200 + check(4800), -1);
    for (let k = 0; k < 100; k++) checkTime(r, recordsB, recordsB[check(recordsB.length)]!.ts, -1);
  }, TIMEOUT_MS);
});

describe("seekLast and the seek starts", () => {
  test("seekLast(n) positions before the last n records, like tail -n", () => {
    using tmp = new TempDir();
    const records = timedQueue(tmp.path, 2000, 20);
    using r = Queue.openAnonymous(tmp.path);
    for (const n of [1, 2, 31, 32, 33, 500, 1999, 2000]) {
      expect(r.seekLast(n)).toEqual({ seq: 2000 - n, atHead: false });
      const got: number[] = [];
      for (let m = r.next(); m !== null; m = r.next()) got.push(m.seq);
      expect(got).toEqual(records.slice(2000 - n).map((x) => x.seq));
    }
    expect(r.seekLast(0)).toEqual({ seq: 2000, atHead: true });
    expect(r.seekLast(5000)).toEqual({ seq: 0, atHead: false });
  }, TIMEOUT_MS);

  test("start: { seq } / { timeNs } / { timeMs } / { last } for anonymous and named readers; a named reader stores it at once", () => {
    using tmp = new TempDir();
    const records = timedQueue(tmp.path, 1000, 21);
    const t = records[600]!.ts;
    const firstAt = records.findIndex((x) => x.ts >= t);
    // T0 + 2^-10 ms (exact in a double, which holds an epoch time in ms to about 0.2 µs) = T0 + 976.5625 ns, rounded to 977.
    const ms = Number(T0 / 1_000_000n) + 2 ** -10;
    const starts = [
      [{ seq: 321 }, 321],
      [{ timeNs: t }, records[firstAt]!.seq],
      [{ timeMs: ms }, records.findIndex((x) => x.ts >= T0 + 977n)],
      [{ last: 10 }, 990],
    ] as const;
    for (const [start, expected] of starts) {
      {
        using anon = Queue.openAnonymous(tmp.path, { start });
        expect({ start, seq: anon.next()?.seq }).toEqual({ start, seq: expected });
      }
      const name = `s${Object.keys(start)[0]}`;
      {
        using named = Queue.openSubscriber(tmp.path, name, { start });
        expect(named.next()?.seq).toBe(expected);
      }
      using again = Queue.openSubscriber(tmp.path, name);
      expect(again.next()?.seq).toBe(expected);
    }
  }, TIMEOUT_MS);

  test("a seek start older than the oldest record fails the open with PositionLost and stores nothing", () => {
    using tmp = new TempDir();
    using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
    appendTimed(w, 1500, T0, rng(22));
    w.cleanup();
    const oldest = scan(tmp.path)[0]!.seq;
    expect(thrown(() => Queue.openAnonymous(tmp.path, { start: { seq: 0 } }))).toMatchObject({ name: "PositionLost", oldestSeq: oldest });
    expect(thrown(() => Queue.openSubscriber(tmp.path, "late", { start: { seq: 0 } }))).toBeInstanceOf(PositionLost);
    using late = Queue.openSubscriber(tmp.path, "late", { start: { seq: oldest } });
    expect(late.next()?.seq).toBe(oldest);
  }, TIMEOUT_MS);
});

describe("named readers: seek moves the read position, commit persists it", () => {
  test("across a process restart: committed after the seek, the seek holds; not committed, the earlier commit holds", async () => {
    using tmp = new TempDir();
    timedQueue(tmp.path, 3000, 23);
    for (const [name, commit, expected] of [["kept", "1", 2500], ["dropped", "0", 10]] as const) {
      await using child = spawnFixture("seek-reader.ts", [tmp.path, name, "10", "2500", commit]);
      expect(await child.line()).toBe("landed 2500 false");
      expect((await child.exit()).code).toBe(0);
      using r = Queue.openSubscriber(tmp.path, name);
      expect(r.next()?.seq).toBe(expected);
    }
    await using starter = spawnFixture("seek-reader.ts", [tmp.path, "started", "start", "1234", "0"]);
    expect(await starter.line()).toBe("landed 1234 false");
    expect((await starter.exit()).code).toBe(0);
    using r = Queue.openSubscriber(tmp.path, "started");
    expect(r.next()?.seq).toBe(1234);
  }, TIMEOUT_MS);
});

describe("seek arguments", () => {
  test("a bad seq, time or count is InvalidArgument; a closed reader is ClosedError", () => {
    using tmp = new TempDir();
    timedQueue(tmp.path, 10, 24);
    const r = Queue.openAnonymous(tmp.path);
    const call = (f: (r: QueueReader) => unknown): unknown => thrown(() => f(r));
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, "3", 3n, null, undefined]) {
      expect(call((q) => q.seek(bad as number))).toBeInstanceOf(InvalidArgument);
      expect(call((q) => q.seekLast(bad as number))).toBeInstanceOf(InvalidArgument);
    }
    for (const bad of [-1n, 1n << 64n, 5, "5", null]) expect(call((q) => q.seekTime(bad as bigint))).toBeInstanceOf(InvalidArgument);
    for (const bad of [-1, Number.NaN, Infinity, 2 ** 64 / 1e6, 5n, "5"]) expect(call((q) => q.seekTimeMs(bad as number))).toBeInstanceOf(InvalidArgument);
    for (const bad of [{}, { seq: 1, last: 2 }, { sequence: 1 }, [1], 5]) {
      expect(thrown(() => Queue.openAnonymous(tmp.path, { start: bad as never }))).toBeInstanceOf(InvalidArgument);
    }
    expect(thrown(() => Queue.openAnonymous(tmp.path, { start: { seq: -2 } }))).toBeInstanceOf(InvalidArgument);
    // After the failures the reader still reads from where it was.
    expect(r.next()?.seq).toBe(0);
    r.close();
    expect(call((q) => q.seek(1))).toBeInstanceOf(ClosedError);
    expect(call((q) => q.seekTime(1n))).toBeInstanceOf(ClosedError);
    expect(call((q) => q.seekTimeMs(1))).toBeInstanceOf(ClosedError);
    expect(call((q) => q.seekLast(1))).toBeInstanceOf(ClosedError);
  }, TIMEOUT_MS);

  test("seekTimeMs(ms) is seekTime(ms * 1e6 ns), fractions included", () => {
    using tmp = new TempDir();
    {
      using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
      for (let i = 0; i < 100; i++) w.append(1, new Uint8Array(1), T0 + BigInt(i) * 250_000n);
    }
    using r = Queue.openAnonymous(tmp.path);
    const base = Number(T0 / 1_000_000n);
    expect(r.seekTimeMs(base)).toEqual({ seq: 0, atHead: false });
    expect(r.seekTimeMs(base + 0.25)).toEqual({ seq: 1, atHead: false });
    expect(r.seekTimeMs(base + 0.3)).toEqual({ seq: 2, atHead: false });
    expect(r.seekTimeMs(base + 10)).toEqual({ seq: 40, atHead: false });
    expect(r.seekTimeMs(base + 1000)).toEqual({ seq: 100, atHead: true });
  }, TIMEOUT_MS);
});
