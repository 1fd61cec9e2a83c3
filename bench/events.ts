/**
 * The event store and the ADR-014 executor against the same commands on bun:sqlite.
 *
 *   bun run bench:events [--runs N] [--quick]
 *
 * Cases (each run builds fresh stores in a temp directory):
 * - Uncontended commands, one process: "deposit" (1 stream: reads account-<i mod 1000>, writes one
 *   event) and "fill" (3 streams: declares order-<i mod 1000>, discovers account-<a> and
 *   instrument-<s> from the order, writes to the order and the account). Commands/s and p50/p99
 *   latency of execute(). Events carry ~60-byte JSON data.
 * - Baseline: the same commands through the same execute() on a SQLite store (WAL,
 *   synchronous=NORMAL, table events with a unique index on (stream, version); readStream is a
 *   SELECT, append one BEGIN IMMEDIATE transaction that checks every expected version and inserts).
 * - Reading a 100-event stream from a store of 1 M events (100,000 appends of 10 events over
 *   10,000 streams, the probe stream's events spread through the log) through the index, against
 *   reading the whole log (every record decoded); and the index rebuild at open.
 * - 4 processes x 500 increments of one counter stream (the stream grows to 2,000 events and every
 *   command folds all of it): commands/s, retries per command and writer hand-overs, on both.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConcurrencyError, EventStore, VersionConflict, execute,
  type AppendResult, type AppendWrite, type Command, type CommandStore, type StoredEvent, type StreamRead,
} from "../src/events/index.ts";
import { Queue } from "../src/index.ts";
import { printTable, note } from "./output.ts";
import { distribution, median } from "./stats.ts";

/** A SQLite event store with the same interface the executor uses. */
class SqliteStore implements CommandStore {
  readonly root: string;
  private readonly db: Database;
  private readonly select;
  private readonly versionOf;
  private readonly insert;
  private readonly begin;
  private readonly commit;
  private readonly rollback;

  constructor(path: string) {
    this.root = path;
    this.db = new Database(path, { create: true });
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;");
    this.db.exec(`CREATE TABLE IF NOT EXISTS events (
      global INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, version INTEGER NOT NULL,
      type TEXT NOT NULL, data TEXT NOT NULL, metadata TEXT, ts INTEGER NOT NULL, UNIQUE (stream, version))`);
    this.select = this.db.prepare("SELECT global, version, type, data, metadata, ts FROM events WHERE stream = ? ORDER BY version");
    this.versionOf = this.db.prepare("SELECT COALESCE(MAX(version), 0) AS v FROM events WHERE stream = ?");
    this.insert = this.db.prepare("INSERT INTO events (stream, version, type, data, metadata, ts) VALUES (?, ?, ?, ?, ?, ?)");
    this.begin = this.db.prepare("BEGIN IMMEDIATE");
    this.commit = this.db.prepare("COMMIT");
    this.rollback = this.db.prepare("ROLLBACK");
  }

  readStream<E>(stream: string): StreamRead<E> {
    const rows = this.select.all(stream) as { global: number; version: number; type: string; data: string; metadata: string | null; ts: number }[];
    const events: StoredEvent<E>[] = rows.map((r) => ({ stream, version: r.version, type: r.type, data: JSON.parse(r.data) as E, globalSeq: r.global, timestampNs: BigInt(r.ts) }));
    return { stream, version: rows.length === 0 ? 0 : rows[rows.length - 1]!.version, events };
  }

  append(writes: readonly AppendWrite[]): AppendResult {
    this.begin.run();
    try {
      const conflicts = [];
      const next = new Map<string, number>();
      for (const w of writes) {
        const actual = (this.versionOf.get(w.stream) as { v: number }).v;
        next.set(w.stream, actual);
        const ok = w.expected === "any" || (w.expected === "no_stream" ? actual === 0 : w.expected === "exists" ? actual > 0 : actual === w.expected);
        if (!ok) conflicts.push({ stream: w.stream, expected: w.expected as number, actual });
      }
      if (conflicts.length > 0) throw new VersionConflict(this.root, conflicts);
      const ts = Date.now() * 1e6;
      const events: StoredEvent[] = [];
      for (const w of writes) {
        let v = next.get(w.stream)!;
        for (const e of w.events) {
          const r = this.insert.run(w.stream, ++v, e.type, JSON.stringify(e.data), e.metadata === undefined ? null : JSON.stringify(e.metadata), ts);
          events.push({ stream: w.stream, version: v, type: e.type, data: e.data, globalSeq: Number(r.lastInsertRowid), timestampNs: BigInt(ts) });
        }
      }
      this.commit.run();
      return { events, lastGlobalSeq: events.length === 0 ? 0 : events[events.length - 1]!.globalSeq };
    } catch (e) {
      this.rollback.run();
      throw e;
    }
  }

  close(): void {
    this.db.close();
  }
}

const ACCOUNTS = 100;
const INSTRUMENTS = 20;
const ORDERS = 1000;

function deposit(i: number): Command<number> {
  const stream = `account-${i % 1000}`;
  return {
    streams: [stream],
    init: () => 0,
    apply: (s, e) => s + (e.data as { amount: number }).amount,
    handle: (s) => [{ stream, events: [{ type: "Deposited", data: { amount: 10, balanceBefore: s, reference: `dep-${i}` } }] }],
  };
}

interface FillState { account: string | null; symbol: string | null; filled: number }

function fill(i: number): Command<FillState> {
  const order = `order-${i % ORDERS}`;
  return {
    streams: [order],
    init: () => ({ account: null, symbol: null, filled: 0 }),
    apply: (s, e) => {
      const d = e.data as { account?: string; symbol?: string; qty?: number };
      if (e.type === "OrderPlaced") return { ...s, account: d.account!, symbol: d.symbol! };
      if (e.type === "OrderFilled") return { ...s, filled: s.filled + d.qty! };
      return s;
    },
    discoverRelatedStreams: (s) => (s.account === null ? [] : [`account-${s.account}`, `instrument-${s.symbol}`]),
    handle: (s) => [
      { stream: order, events: [{ type: "OrderFilled", data: { qty: 1, price: 100.25, fillId: `f-${i}` } }] },
      { stream: `account-${s.account}`, events: [{ type: "PositionChanged", data: { symbol: s.symbol, delta: 1, price: 100.25 } }] },
    ],
  };
}

function seedOrders(store: CommandStore): void {
  for (let a = 0; a < ACCOUNTS; a++) store.append([{ stream: `account-${a}`, expected: "no_stream", events: [{ type: "AccountOpened", data: { owner: `owner-${a}` } }] }]);
  for (let s = 0; s < INSTRUMENTS; s++) store.append([{ stream: `instrument-SYM${s}`, expected: "no_stream", events: [{ type: "Listed", data: { symbol: `SYM${s}` } }] }]);
  for (let o = 0; o < ORDERS; o++) {
    store.append([{ stream: `order-${o}`, expected: "no_stream", events: [{ type: "OrderPlaced", data: { account: String(o % ACCOUNTS), symbol: `SYM${o % INSTRUMENTS}`, qty: 1000 } }] }]);
  }
}

/** Runs `count` commands (after `warmup`), one at a time; commands/s and latency percentiles in µs. */
async function timeCommands(store: CommandStore, make: (i: number) => Command<unknown>, count: number, warmup: number): Promise<{ rate: number; p50: number; p99: number }> {
  for (let i = 0; i < warmup; i++) await execute(store, make(i));
  const samples = new Float64Array(count);
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < count; i++) {
    const s = Bun.nanoseconds();
    await execute(store, make(warmup + i));
    samples[i] = (Bun.nanoseconds() - s) / 1000;
  }
  const ns = Bun.nanoseconds() - t0;
  const d = distribution(samples);
  return { rate: count / (ns / 1e9), p50: d.p50, p99: d.p99 };
}

/** The probe read: a store of `total` events in appends of 10, the probe stream getting `probe` of them. */
function readCase(dir: string, total: number, probe: number): { indexedUs: number; logMs: number; openMs: number; events: number } {
  {
    using store = EventStore.open(dir, { segmentSize: 64 << 20 });
    const appends = total / 10;
    const every = appends / probe;
    for (let a = 0; a < appends; a++) {
      const writes: AppendWrite[] = [];
      const base = (a * 10) % 10_000;
      const streams = a % every === 0 ? ["probe", ...Array.from({ length: 9 }, (_, k) => `s${base + k}`)] : Array.from({ length: 10 }, (_, k) => `s${base + k}`);
      for (const stream of streams) writes.push({ stream, expected: "any", events: [{ type: "Tick", data: { a, stream, value: a * 0.5 } }] });
      store.append(writes);
    }
  }
  const t0 = performance.now();
  using store = EventStore.open(dir);
  const openMs = performance.now() - t0;
  let read = store.readStream("probe");
  const reps = 200;
  const t1 = Bun.nanoseconds();
  for (let r = 0; r < reps; r++) read = store.readStream("probe");
  const indexedUs = (Bun.nanoseconds() - t1) / reps / 1000;
  if (read.events.length !== probe) throw new Error(`probe stream has ${read.events.length} events, expected ${probe}`);
  const t2 = performance.now();
  let found = 0;
  using reader = Queue.openAnonymous(store.logDir, { start: "earliest" });
  for (let m = reader.next(); m !== null; m = reader.next()) for (const e of store.decode(m)) if (e.stream === "probe") found++;
  const logMs = performance.now() - t2;
  if (found !== probe) throw new Error(`log scan found ${found} probe events`);
  return { indexedUs, logMs, openMs, events: store.stats.lastGlobalSeq };
}

/** 4 child processes x `count` increments of one counter; commands/s over all, retries per command, hand-overs. */
async function contend(kind: "chronicle" | "sqlite", dir: string, procs: number, count: number): Promise<{ rate: number; retries: number; opens: number }> {
  const go = join(dir, "go");
  const children = Array.from({ length: procs }, (_, k) => Bun.spawn(["bun", import.meta.path, "--worker", kind, dir, `p${k}`, String(count), go], { stdout: "pipe", stderr: "inherit" }));
  const ready = children.map(async (c) => {
    const reader = c.stdout.getReader();
    const chunks: string[] = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(new TextDecoder().decode(value));
    }
    return chunks.join("");
  });
  await Bun.sleep(500);
  const t0 = performance.now();
  writeFileSync(go, "");
  const outs = await Promise.all(ready);
  const ms = performance.now() - t0;
  let attempts = 0;
  let opens = 0;
  for (const out of outs) {
    const m = /done (\d+) (\d+)/.exec(out);
    if (m === null) throw new Error(`worker said ${out}`);
    attempts += Number(m[1]);
    opens += Number(m[2]);
  }
  return { rate: (procs * count) / (ms / 1000), retries: attempts / (procs * count) - 1, opens };
}

async function worker(kind: string, dir: string, name: string, count: number, go: string): Promise<void> {
  const store: CommandStore & { close(): void } = kind === "sqlite" ? new SqliteStore(join(dir, "events.db")) : EventStore.open(join(dir, "store"));
  while (!existsSync(go)) Bun.sleepSync(1);
  let attempts = 0;
  for (let i = 0; i < count; i++) {
    const command: Command<number> = {
      streams: ["counter"],
      init: () => 0,
      apply: (n) => n + 1,
      handle: (n) => [{ stream: "counter", events: [{ type: "Incremented", data: { by: name, i, value: n + 1 } }] }],
    };
    for (;;) {
      try {
        attempts += (await execute(store, command, { retry: { maxRetries: 8, baseDelayMs: 1 } })).attempts;
        break;
      } catch (e) {
        if (!(e instanceof ConcurrencyError)) throw e;
        attempts += e.attempts;
      }
    }
  }
  const opens = store instanceof EventStore ? store.stats.writerOpens : 0;
  store.close();
  console.log(`done ${attempts} ${opens}`);
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const runsArg = process.argv.indexOf("--runs");
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : quick ? 1 : 3;
  const commands = quick ? 5_000 : 20_000;
  const readTotal = quick ? 100_000 : 1_000_000;
  const contendCount = quick ? 200 : 500;
  const results: Record<string, number[]> = {};
  const add = (k: string, v: number): void => void (results[k] ??= []).push(v);

  for (let run = 1; run <= runs; run++) {
    const root = mkdtempSync(join(tmpdir(), "chronicle-bench-events-"));
    try {
      for (const kind of ["chronicle", "sqlite"] as const) {
        const open = (name: string): CommandStore & { close(): void } => (kind === "sqlite" ? new SqliteStore(join(root, `${name}.db`)) : EventStore.open(join(root, name)));
        const s1 = open("deposit");
        const d = await timeCommands(s1, deposit, commands, 2_000);
        s1.close();
        const s3 = open("fill");
        seedOrders(s3);
        const f = await timeCommands(s3, fill, commands, 2_000);
        s3.close();
        add(`${kind} 1-stream rate`, d.rate);
        add(`${kind} 1-stream p50`, d.p50);
        add(`${kind} 1-stream p99`, d.p99);
        add(`${kind} 3-stream rate`, f.rate);
        add(`${kind} 3-stream p50`, f.p50);
        add(`${kind} 3-stream p99`, f.p99);
        note(`run ${run} ${kind}: 1-stream ${d.rate.toFixed(0)}/s (p50 ${d.p50.toFixed(1)} µs, p99 ${d.p99.toFixed(1)} µs), 3-stream ${f.rate.toFixed(0)}/s (p50 ${f.p50.toFixed(1)} µs, p99 ${f.p99.toFixed(1)} µs)`);
      }
      const r = readCase(join(root, "read"), readTotal, 100);
      add("read indexed us", r.indexedUs);
      add("read log ms", r.logMs);
      add("read open ms", r.openMs);
      note(`run ${run} read: 100 events of ${r.events}: index ${r.indexedUs.toFixed(0)} µs, whole log ${r.logMs.toFixed(0)} ms, open (index rebuild) ${r.openMs.toFixed(0)} ms`);
      rmSync(join(root, "read"), { recursive: true, force: true });
      for (const kind of ["chronicle", "sqlite"] as const) {
        const dir = join(root, `contend-${kind}`);
        if (kind === "chronicle") EventStore.open(join(dir, "store")).close();
        else {
          mkdirSync(dir, { recursive: true });
          new SqliteStore(join(dir, "events.db")).close();
        }
        const c = await contend(kind, dir, 4, contendCount);
        add(`${kind} contended rate`, c.rate);
        add(`${kind} contended retries`, c.retries);
        add(`${kind} contended opens`, c.opens);
        note(`run ${run} contended ${kind}: ${c.rate.toFixed(0)} commands/s, ${c.retries.toFixed(2)} retries per command${kind === "chronicle" ? `, ${c.opens} writer hand-overs` : ""}`);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  const fmt = (k: string, digits = 0): string => {
    const xs = results[k]!;
    return `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  };
  const ratio = (a: string, b: string): string => {
    const xs = results[a]!.map((x, i) => x / results[b]![i]!);
    return `${median(xs).toFixed(1)}x (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;
  };
  console.log(`\nEvent store vs SQLite: median (min–max) of ${runs} run(s); ${commands} commands per case after 2,000 warm-up, one process.\n`);
  printTable(["case", "chronicle events", "bun:sqlite (WAL)", "ratio"], [
    ["1-stream command/s", fmt("chronicle 1-stream rate"), fmt("sqlite 1-stream rate"), ratio("chronicle 1-stream rate", "sqlite 1-stream rate")],
    ["1-stream p50 µs", fmt("chronicle 1-stream p50", 1), fmt("sqlite 1-stream p50", 1), ""],
    ["1-stream p99 µs", fmt("chronicle 1-stream p99", 1), fmt("sqlite 1-stream p99", 1), ""],
    ["3-stream (discovery) command/s", fmt("chronicle 3-stream rate"), fmt("sqlite 3-stream rate"), ratio("chronicle 3-stream rate", "sqlite 3-stream rate")],
    ["3-stream p50 µs", fmt("chronicle 3-stream p50", 1), fmt("sqlite 3-stream p50", 1), ""],
    ["3-stream p99 µs", fmt("chronicle 3-stream p99", 1), fmt("sqlite 3-stream p99", 1), ""],
    [`4 procs x ${contendCount} on 1 stream, command/s`, fmt("chronicle contended rate"), fmt("sqlite contended rate"), ratio("chronicle contended rate", "sqlite contended rate")],
    ["retries per command", fmt("chronicle contended retries", 2), fmt("sqlite contended retries", 2), ""],
    ["writer hand-overs", fmt("chronicle contended opens"), "", ""],
  ]);
  console.log(`\nReading a 100-event stream from a store of ${readTotal} events (median (min–max) of ${runs} run(s)):\n`);
  const readRatio = results["read log ms"]!.map((ms, i) => (ms * 1000) / results["read indexed us"]![i]!);
  printTable(["read", "time"], [
    ["readStream through the index", `${fmt("read indexed us")} µs`],
    ["whole log, every record decoded", `${fmt("read log ms")} ms`],
    ["ratio", `${median(readRatio).toFixed(0)}x (${Math.min(...readRatio).toFixed(0)}–${Math.max(...readRatio).toFixed(0)})`],
    ["index rebuild (EventStore.open)", `${fmt("read open ms")} ms`],
  ]);
}

if (process.argv[2] === "--worker") {
  const [, , , kind, dir, name, count, go] = process.argv;
  await worker(kind!, dir!, name!, Number(count), go!);
} else {
  await main();
}
