/**
 * Seek by seq and by time against a linear read to the same record, in the same run.
 *
 *   bun run bench:seek [--records N]
 *
 * A queue of 10 M records (default; --records to change) with payloads of 16..32 bytes (a record
 * is 128 bytes on disk), 64 MiB segments, timestamps 100 ns apart, on /dev/shm (tmpfs: the page
 * cache, no disk; the temp dir when /dev/shm is missing), removed at the end.
 * 1. seek(seq) to 10,000 random seqs on one reader, then seekTime(t) to 10,000 random times on a
 *    new one: the time of the seek plus the next() that returns the record it found (so the cost
 *    of mapping the segment and touching its pages is counted whether seek or next() pays it),
 *    p50 / p99 / max. Each reader starts with no index, so its early seeks include building the
 *    segment indexes (see DESIGN.md, Seek); every landing is checked.
 * 2. Cold: a new reader and one seek + next(), 20 random seqs: what `chronicle tail --from` pays.
 * 3. Baseline: a new reader calls next() from the start until it returns the target (CRC checked),
 *    for 20 of the targets. Ratio = baseline median / seek median.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "../src/index.ts";
import { listSegmentIds } from "../src/queue/segment.ts";
import { note, printTable } from "./output.ts";
import { distribution, median } from "./stats.ts";

const recordsArg = process.argv.indexOf("--records");
const N = recordsArg > 0 ? Number(process.argv[recordsArg + 1]) : 10_000_000;
const SEEKS = 10_000;
const SAMPLES = 20;
const T0 = 1_764_000_000_000_000_000n;
const STEP_NS = 100n;
const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const dir = mkdtempSync(join(base, "chronicle-bench-seek-"));

function us(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(1)} ms` : `${(ns / 1e3).toFixed(1)} µs`;
}

/** Deterministic random integers in [0, n). */
let state = 12345;
function rand(n: number): number {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return Math.floor((state / 4294967296) * n);
}

function writeQueue(): void {
  using w = Queue.openPublisher(dir);
  const payload = new Uint8Array(32).fill(7);
  for (let i = 0; i < N; i++) w.append(1, payload.subarray(0, 16 + (i % 17)), T0 + BigInt(i) * STEP_NS);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`wrong landing: ${what}`);
}

try {
  const started = performance.now();
  writeQueue();
  note(`wrote ${N} records in ${listSegmentIds(dir).length} segments under ${base} in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const seqTargets = Array.from({ length: SEEKS }, () => rand(N));
  const seqTimes = new Float64Array(SEEKS);
  {
    using r = Queue.openAnonymous(dir);
    for (let i = 0; i < SEEKS; i++) {
      const t = Bun.nanoseconds();
      r.seek(seqTargets[i]!);
      const seq = r.next()?.seq;
      seqTimes[i] = Bun.nanoseconds() - t;
      check(seq === seqTargets[i], `seq ${seqTargets[i]}`);
    }
  }
  const timeTimes = new Float64Array(SEEKS);
  {
    using r = Queue.openAnonymous(dir);
    for (let i = 0; i < SEEKS; i++) {
      // A time between two records: the answer is the later one.
      const k = rand(N - 1);
      const t = Bun.nanoseconds();
      r.seekTime(T0 + BigInt(k) * STEP_NS + 1n);
      const seq = r.next()?.seq;
      timeTimes[i] = Bun.nanoseconds() - t;
      check(seq === k + 1, `time after seq ${k}`);
    }
  }
  const sample = seqTargets.slice(0, SAMPLES);
  const cold = sample.map((target) => {
    using r = Queue.openAnonymous(dir);
    const t = Bun.nanoseconds();
    r.seek(target);
    const seq = r.next()?.seq;
    const ns = Bun.nanoseconds() - t;
    check(seq === target, `cold seq ${target}`);
    return ns;
  });
  const linear = sample.map((target) => {
    using r = Queue.openAnonymous(dir);
    const t = Bun.nanoseconds();
    let m = r.next();
    while (m !== null && m.seq < target) m = r.next();
    const ns = Bun.nanoseconds() - t;
    check(m?.seq === target, `linear to ${target}`);
    return ns;
  });

  const seqD = distribution(seqTimes);
  const timeD = distribution(timeTimes);
  const coldSorted = [...cold].sort((a, b) => a - b);
  const linearMedian = median(linear);
  console.log(`\nseek: ${N} records of 16..32 B payload (128 B each on disk), 64 MiB segments, on ${base}; ${SEEKS} seeks per kind, ${SAMPLES} cold and baseline samples\n`);
  printTable(["case (seek + next())", "p50", "p99", "max", "linear median / p50"], [
    [`seek(seq), ${SEEKS} on one reader`, us(seqD.p50), us(seqD.p99), us(seqD.max), `${Math.round(linearMedian / seqD.p50)}x`],
    [`seekTime(ns), ${SEEKS} on one reader`, us(timeD.p50), us(timeD.p99), us(timeD.max), `${Math.round(linearMedian / timeD.p50)}x`],
    [`cold: new reader, first seek (${SAMPLES})`, us(median(cold)), "-", us(coldSorted[coldSorted.length - 1]!), `${Math.round(linearMedian / median(cold))}x`],
    [`linear read from the start (${SAMPLES})`, us(linearMedian), "-", us(Math.max(...linear)), "1x"],
  ]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
