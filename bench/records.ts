/**
 * Typed records against the hand-written DataView code they replace, in the same run.
 *
 *   bun run bench:records [--count N]
 *
 * The record is the examples' tick: 5 fields (u32, u32, f64, f64, f64), a 32-byte payload.
 * 1. Encode + append: each variant writes `count` records (default 1,000,000) into one fresh
 *    queue per run (64 MiB segments, in the temp dir), in interleaved batches of 10,000, so page
 *    faults, rolls and the neighbours' load fall on all variants alike. "hand-written + append"
 *    fills a private buffer through a DataView and appends it (what examples/codec.ts did);
 *    "hand-written claimAt" stores through claimData in place; "typed claim" is
 *    `Tick.encoder()`'s claim form; "typed append" is `Tick.append(writer, values)` with one
 *    reused values object.
 * 2. Read + decode: an anonymous reader (verifyCrc: false, so decoding is a larger share of the
 *    time) reads `count` records per variant from that queue, interleaved the same way:
 *    "hand-written" checks the type id and length as the examples did and reads the 5 fields
 *    through `m.data` at `m.payloadOffset`, "typed view" uses `Tick.view()`'s wrap (type id and
 *    version check) and getters; both sum the fields.
 * 3 runs; a run's figure for a variant is the median over its 100 batches of ns per record (the
 * machine is shared: a batch that lost the CPU to another process is an outlier, not a cost).
 * Per variant the median over the runs with min–max, and the throughput ratio against the
 * baseline per run (>1: faster than the baseline).
 * Heap objects allocated per record in one extra pass of 100,000 records of each typed variant,
 * after a full GC, less what counting allocates (so within about ±0.001 of the truth).
 */
import { fullGC, heapStats } from "bun:jsc";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue, defineRecord, type QueueReader, type QueueWriter } from "../src/index.ts";
import { note, printTable } from "./output.ts";
import { median } from "./stats.ts";

const argv = process.argv.slice(2);
const COUNT = argv.includes("--count") ? Number(argv[argv.indexOf("--count") + 1]) : 1_000_000;
const RUNS = 3;
const SEGMENT = 64 << 20;
const TYPE = 1;
const SIZE = 32;
/** Records per variant between switches to the next variant. */
const BATCH = 10_000;
/** Records in each allocation pass. */
const ALLOC_PASS = 100_000;
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-records-"));


const Tick = defineRecord("Tick", TYPE, { symbol: "u32", seq: "u32", bid: "f64", ask: "f64", sentMs: "f64" });
if (Tick.size !== SIZE) throw new Error(`Tick is ${Tick.size} bytes`);

let sink = 0;

/** Each variant writes `n` records from number `from` on. */
const encoders: Record<string, (w: QueueWriter, from: number, n: number) => void> = {
  "hand-written + append": (() => {
    const bytes = new Uint8Array(SIZE);
    const out = new DataView(bytes.buffer);
    return (w, from, n) => {
      for (let i = from; i < from + n; i++) {
        out.setUint32(0, i & 15, true);
        out.setUint32(4, i, true);
        out.setFloat64(8, i * 0.5, true);
        out.setFloat64(16, i * 0.5 + 0.01, true);
        out.setFloat64(24, i, true);
        w.append(TYPE, bytes);
      }
    };
  })(),
  "hand-written claimAt": (w, from, n) => {
    for (let i = from; i < from + n; i++) {
      const at = w.claimAt(TYPE, SIZE);
      const out = w.claimData;
      out.setUint32(at, i & 15, true);
      out.setUint32(at + 4, i, true);
      out.setFloat64(at + 8, i * 0.5, true);
      out.setFloat64(at + 16, i * 0.5 + 0.01, true);
      out.setFloat64(at + 24, i, true);
      w.commitClaim();
    }
  },
  "typed claim": (() => {
    const t = Tick.encoder();
    return (w, from, n) => {
      for (let i = from; i < from + n; i++) {
        t.claim(w);
        t.symbol = i & 15;
        t.seq = i;
        t.bid = i * 0.5;
        t.ask = i * 0.5 + 0.01;
        t.sentMs = i;
        t.commit();
      }
    };
  })(),
  "typed append": (() => {
    const values = { symbol: 0, seq: 0, bid: 0, ask: 0, sentMs: 0 };
    return (w, from, n) => {
      for (let i = from; i < from + n; i++) {
        values.symbol = i & 15;
        values.seq = i;
        values.bid = i * 0.5;
        values.ask = i * 0.5 + 0.01;
        values.sentMs = i;
        Tick.append(w, values);
      }
    };
  })(),
};

/** Each variant reads and decodes the next `n` records; returns the sum of their fields. */
const decoders: Record<string, (r: QueueReader, n: number) => number> = {
  "hand-written": (r, n) => {
    let acc = 0;
    for (let k = 0; k < n; k++) {
      const m = r.next()!;
      // The check the examples' hand-written code made before decoding (router.ts, strategy.ts).
      if (m.typeId !== TYPE || m.length !== SIZE) continue;
      const d = m.data;
      const at = m.payloadOffset;
      acc += d.getUint32(at, true) + d.getUint32(at + 4, true) + d.getFloat64(at + 8, true) + d.getFloat64(at + 16, true) + d.getFloat64(at + 24, true);
    }
    return acc;
  },
  "typed view": (() => {
    const t = Tick.view();
    return (r, n) => {
      let acc = 0;
      for (let k = 0; k < n; k++) if (t.wrap(r.next()!)) acc += t.symbol + t.seq + t.bid + t.ask + t.sentMs;
      return acc;
    };
  })(),
};

/**
 * One run: every variant writes COUNT records into one queue in interleaved batches (so page
 * faults, segment rolls and the neighbours' load fall on all of them alike), then every reader
 * variant decodes COUNT of them, interleaved the same way. Adds each variant's median over its
 * batches of ns per record to the times (a batch hit by another process's time slice counts once).
 */
function run(encodeTimes: Map<string, number[]>, decodeTimes: Map<string, number[]>, dir: string): void {
  const batches = new Map<string, number[]>();
  const add = (name: string, t0: number): void => {
    const ns = (Bun.nanoseconds() - t0) / BATCH;
    const xs = batches.get(name);
    if (xs === undefined) batches.set(name, [ns]);
    else xs.push(ns);
  };
  {
    using w = Queue.openPublisher(dir, { segmentSize: SEGMENT });
    for (let from = 0; from < COUNT; from += BATCH) {
      for (const [name, encode] of Object.entries(encoders)) {
        const t0 = Bun.nanoseconds();
        encode(w, from, BATCH);
        add(name, t0);
      }
    }
  }
  {
    using r = Queue.openAnonymous(dir, { start: "earliest", verifyCrc: false });
    for (let done = 0; done < COUNT; done += BATCH) {
      for (const [name, decode] of Object.entries(decoders)) {
        const t0 = Bun.nanoseconds();
        sink += decode(r, BATCH);
        add(name, t0);
      }
    }
  }
  for (const [name, xs] of batches) (encodeTimes.get(name) ?? decodeTimes.get(name))!.push(median(xs));
}

function objectCount(): number {
  return Object.values(heapStats().objectTypeCounts).reduce((a, b) => a + b, 0);
}

/** Heap objects a pass of `pass` allocated, less what counting itself allocates. */
function allocated(pass: () => void): number {
  fullGC();
  const a = objectCount();
  const b = objectCount();
  pass();
  return objectCount() - b - (b - a);
}

const encodeTimes = new Map<string, number[]>(Object.keys(encoders).map((k) => [k, []]));
const decodeTimes = new Map<string, number[]>(Object.keys(decoders).map((k) => [k, []]));
try {
  for (let i = 1; i <= RUNS; i++) {
    const dir = join(root, `run${i}`);
    run(encodeTimes, decodeTimes, dir);
    rmSync(dir, { recursive: true, force: true });
    note(`run ${i}/${RUNS} done`);
  }
  // Allocation passes after a full GC (no collection runs within a pass this short).
  const allocs = new Map<string, number>();
  const dir = join(root, "allocs");
  {
    using w = Queue.openPublisher(dir, { segmentSize: SEGMENT });
    for (const name of ["typed claim", "typed append"]) {
      encoders[name]!(w, 0, BATCH);
      allocs.set(name, allocated(() => encoders[name]!(w, 0, ALLOC_PASS)) / ALLOC_PASS);
    }
  }
  {
    using r = Queue.openAnonymous(dir, { start: "earliest", verifyCrc: false });
    sink += decoders["typed view"]!(r, BATCH);
    allocs.set("typed view", allocated(() => void (sink += decoders["typed view"]!(r, ALLOC_PASS))) / ALLOC_PASS);
  }

  const fmt = (x: number): string => x.toFixed(1);
  const spread = (xs: number[]): string => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
  const rows = (times: Map<string, number[]>, baseline: string): string[][] =>
    [...times].map(([name, xs]) => {
      const base = times.get(baseline)!;
      const ratios = xs.map((x, i) => base[i]! / x);
      return [name, fmt(median(xs)), spread(xs), (1e3 / median(xs)).toFixed(2), name === baseline ? "1 (baseline)" : `${median(ratios).toFixed(2)} (${ratios.map((r) => r.toFixed(2)).join(", ")})`, allocs.has(name) ? allocs.get(name)!.toFixed(3) : "-"];
    });
  const header = ["variant", "ns/record (median)", "min–max", "M records/s", "ratio vs baseline, median (runs)", "objects/record"];
  console.log(`\n## Encode + append: ${COUNT.toLocaleString("en")} records of ${SIZE} B per run, ${RUNS} runs, 64 MiB segments in ${tmpdir()}\n`);
  printTable(header, rows(encodeTimes, "hand-written + append"));
  console.log(`\ntyped claim vs hand-written claimAt, per run: ${encodeTimes.get("typed claim")!.map((x, i) => (encodeTimes.get("hand-written claimAt")![i]! / x).toFixed(2)).join(", ")}`);
  console.log(`\n## Read + decode (5 fields summed): ${COUNT.toLocaleString("en")} records of ${SIZE} B per run, ${RUNS} runs, anonymous reader, verifyCrc: false\n`);
  printTable(header, rows(decodeTimes, "hand-written"));
  if (sink === 42) console.log("");
} finally {
  rmSync(root, { recursive: true, force: true });
}
