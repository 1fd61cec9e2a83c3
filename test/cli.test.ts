import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Queue, type QueueReader, type QueueWriter } from "../src/index.ts";
import {
  CONTROL_FILE, CONTROL_SIZE, CTL_MAGIC_OFF, CTL_WRITER_EPOCH_OFF, CTL_WRITER_HEARTBEAT_OFF, READERS_DIR, READER_META_SIZE, SEGMENT_HEADER_SIZE, SLOT_GENERATION_OFF, SLOT_HEARTBEAT_OFF,
  WRITER_LOCK_FILE, recordLength, segmentFileName, slotOffset, tempPath,
} from "../src/queue/layout/index.ts";
import { readerMetaPath } from "../src/queue/readerMeta.ts";
import { listSegmentIds, segmentPath } from "../src/queue/segment.ts";
import { readRecords } from "./helpers/queue.ts";
import { runToEnd, spawnFixture, spawnScript, type Child } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";
import { eventually } from "./helpers/async.ts";

const CLI = join(import.meta.dir, "..", "cli", "main.ts");
const SEGMENT = 65536;
/** Bytes one record with a 1000-byte payload occupies. */
const REC_1000 = recordLength(1000);
/** Where the first record of a segment starts. */
const FIRST_OFFSET = SEGMENT_HEADER_SIZE;
const ANSI = "\x1b";

// The tests decide about colour themselves: an inherited NO_COLOR would hide the TTY case.
const baseEnv: Record<string, string> = Object.fromEntries(
  Object.entries(process.env).filter((e): e is [string, string] => e[0] !== "NO_COLOR" && e[1] !== undefined),
);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bun cli/main.ts ...args` with piped (non-TTY) output. */
async function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const run = await runToEnd(["bun", CLI, ...args], { env: { ...baseEnv, ...env } });
  // Piped output is not a terminal: colour codes would corrupt files and pipes.
  expect(run.stdout + run.stderr).not.toContain(ANSI);
  return run;
}

/** Runs the CLI and parses its --json output (exit code 0 unless told). */
async function cliJson(args: string[], code = 0): Promise<any> {
  const r = await cli([...args, "--json"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(code);
  return JSON.parse(r.stdout);
}

/** Exit `code`, nothing on stdout, exactly one "chronicle: ..." line on stderr (no stack trace), matching `message`; returns it. */
function expectOneLineError(r: Run, code: number, message: RegExp): string {
  expect(r.code).toBe(code);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("chronicle: ");
  expect(lines[0]).toMatch(message);
  return lines[0]!;
}

/** A usage error: exit 2 and one line, as {@link expectOneLineError}. */
function expectUsageError(r: Run, message: RegExp): void {
  expectOneLineError(r, 2, message);
}

/** The CLI as a long-running child with line-by-line stdout. */
function follow(args: string[]): Child {
  return spawnScript(CLI, args, baseEnv);
}

function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** Starts a cli-writer.ts child and waits until it has appended; returns its pid and epoch. */
async function writerChild(dir: string, count: number, payload: number): Promise<{ child: Child; pid: number; epoch: number }> {
  const child = spawnFixture("cli-writer.ts", [dir, String(SEGMENT), String(count), String(payload)], baseEnv);
  const [word, pid, epoch, next] = (await child.line()).split(" ");
  expect(word).toBe("ready");
  expect(Number(next)).toBe(count);
  return { child, pid: Number(pid), epoch: Number(epoch) };
}

/** A control.meta that is the right size and initialised, but with a wrong magic number. */
function corruptControl(dir: string): void {
  const path = join(dir, CONTROL_FILE);
  const bytes = readFileSync(path);
  bytes.writeUInt32LE(0xdeadbeef, CTL_MAGIC_OFF);
  writeFileSync(path, bytes);
}

describe("inspect", () => {
  test("a live writer child, then the same writer SIGKILLed: writer, head, segments and readers with lag and state", async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    const { child, pid, epoch } = await writerChild(dir, 150, 1000);
    await using _child = child;
    const ids = listSegmentIds(dir);
    expect(ids.length).toBeGreaterThanOrEqual(3);
    const newest = ids[ids.length - 1]!;

    // "head": caught up and open. "behind": open, nothing consumed. "near": 5 records behind, closed.
    using head = Queue.openSubscriber(dir, "head");
    while (head.next() !== null);
    head.commit();
    using behind = Queue.openSubscriber(dir, "behind");
    behind.commit();
    {
      using near = Queue.openSubscriber(dir, "near");
      for (let m = near.next(); m !== null && m.seq < 144; m = near.next());
      near.commit();
    }

    // As a segment being created would leave it: in progress while the writer runs, leftover after.
    const temp = tempPath(segmentPath(dir, newest + 1));
    writeFileSync(temp, "");

    const [live, liveText] = await Promise.all([cliJson(["inspect", dir]), cli(["inspect", dir])]);
    expect(live.dir).toBe(dir);
    expect(live.formatVersion).toBe(2);
    expect(live.segmentSize).toBe(SEGMENT);
    expect(live.writer).toMatchObject({ alive: true, stale: false, pid, epoch });
    expect(live.writer.heartbeatAgeMs).toBeNumber();
    expect(live.writer.heartbeatAgeMs).toBeGreaterThanOrEqual(0);
    expect(live.head.segment).toBe(newest);
    expect(live.head.lastSeq).toBe(149);
    expect(live.head.nextSeq).toBe(150);
    expect((live.head.offset - FIRST_OFFSET) % REC_1000).toBe(0);
    expect(live.segments).toEqual({ count: ids.length, bytes: ids.length * SEGMENT, oldest: 0, newest, corrupt: [] });
    expect(live.deletable).toEqual([]);
    expect(live.tempFiles).toEqual([temp]);
    const byName = (info: any): Record<string, any> => Object.fromEntries(info.readers.map((r: any) => [r.name, r]));
    let readers = byName(live);
    expect(Object.keys(readers).sort()).toEqual(["behind", "head", "near"]);
    expect(readers.head).toMatchObject({ open: true, state: "live", lagBytes: 0, lagRecords: 0, position: { segment: newest, offset: live.head.offset } });
    expect(readers.near).toMatchObject({ open: false, state: "live", lagBytes: 5 * REC_1000, lagRecords: 5 });
    expect(readers.near.position.segment).toBe(newest);
    expect(readers.near.heartbeatAgeMs).toBeGreaterThanOrEqual(0);
    expect(readers.behind).toMatchObject({ open: true, state: "live", lagRecords: null, position: { segment: 0, offset: FIRST_OFFSET } });
    expect(readers.behind.lagBytes).toBe(newest * SEGMENT + live.head.offset - FIRST_OFFSET);

    expect(liveText.code).toBe(0);
    expect(liveText.stderr).toBe("");
    const text = liveText.stdout;
    expect(text).toContain(`queue       ${dir}\n`);
    expect(text).toContain("format      v2, segment size 64 KiB\n");
    expect(text).toMatch(new RegExp(`writer      alive \\(pid ${pid}\\), epoch ${epoch}, heartbeat \\S+ (ms|s) ago\n`));
    expect(text).toContain(`head        segment ${newest} offset ${live.head.offset}, last seq 149\n`);
    expect(text).toContain(`segments    ${ids.length} (${(ids.length * SEGMENT) / 1024} KiB), oldest 0, newest ${newest}\n`);
    expect(text).toContain("temp files  1 in progress (writer running)\n");
    expect(text).toMatch(/^reader\s+segment\s+offset\s+lag\s+lag records\s+heartbeat\s+open\s+state$/m);
    expect(text).toMatch(new RegExp(`^head\\s+${newest}\\s+${live.head.offset}\\s+0 B\\s+0\\s+.+\\s+yes\\s+live$`, "m"));
    expect(text).toMatch(new RegExp(`^near\\s+${newest}\\s+\\d+\\s+5\\.3 KiB\\s+5\\s+.+\\s+no\\s+live$`, "m"));
    expect(text).toMatch(new RegExp(`^behind\\s+0\\s+${FIRST_OFFSET}\\s+\\S+ KiB\\s+-\\s+.+\\s+yes\\s+live$`, "m"));

    await child.killAndWait();
    // "near" is closed: with a 50 ms TTL its heartbeat is too old. "behind" is past --max-lag.
    await Bun.sleep(100);
    const policy = ["--ttl", "50", "--max-lag", "100000"];
    const [dead, deadText] = await Promise.all([cliJson(["inspect", dir, ...policy]), cli(["inspect", dir, ...policy])]);
    expect(dead.writer).toMatchObject({ alive: false, stale: true, pid, epoch });
    expect(dead.writer.heartbeatAgeMs).toBeGreaterThanOrEqual(0);
    expect(dead.head).toEqual(live.head);
    readers = byName(dead);
    expect(readers.head.state).toBe("live");
    expect(readers.near).toMatchObject({ open: false, state: "dead" });
    expect(readers.behind).toMatchObject({ open: true, state: "lagging" });
    // Retention: "behind" no longer holds segments, "head" holds only the newest.
    expect(dead.deletable).toEqual(ids.slice(0, -1));

    expect(deadText.code).toBe(0);
    expect(deadText.stdout).toContain(`writer      not running (stale lock, last pid ${pid}), epoch ${epoch}`);
    expect(deadText.stdout).toContain(`, ${ids.length - 1} eligible for retention\n`);
    expect(deadText.stdout).toContain("temp files  1 leftover\n");
    expect(deadText.stdout).toMatch(/^near\s.+\sno\s+dead$/m);
    expect(deadText.stdout).toMatch(/^behind\s.+\syes\s+lagging$/m);
  });

  test("--json gives nanosecond times exactly, as decimal strings", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    Queue.openSubscriber(tmp.path, "r").close();
    const bytes = readFileSync(readerMetaPath(tmp.path, "r"));
    const meta = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // The slot written last (the higher generation) is the one in force.
    const slots = [0, 1].map((i) => ({
      generation: meta.getBigUint64(slotOffset(i) + SLOT_GENERATION_OFF, true),
      heartbeatNs: meta.getBigUint64(slotOffset(i) + SLOT_HEARTBEAT_OFF, true),
    }));
    const stored = slots[0]!.generation > slots[1]!.generation ? slots[0]!.heartbeatNs : slots[1]!.heartbeatNs;
    // Above 2^53: a double could not hold it, so a number here would be a rounded one.
    expect(stored).toBeGreaterThan(2n ** 53n);
    const info = await cliJson(["inspect", tmp.path]);
    expect(info.readers[0].position.heartbeatNs).toBe(String(stored));
  });

  test("a writer that ran and closed: closed, with its epoch and the time of its last heartbeat; none yet: never opened", async () => {
    using tmp = new TempDir();
    const closed = tmp.join("closed");
    for (let i = 0; i < 2; i++) Queue.openPublisher(closed, { segmentSize: SEGMENT, preallocate: false }).close();
    const control = readFileSync(join(closed, CONTROL_FILE));
    const heartbeatNs = new DataView(control.buffer, control.byteOffset, control.byteLength).getBigUint64(CTL_WRITER_HEARTBEAT_OFF, true);
    // As a control block left by a writer that died before its first epoch was stored.
    const never = tmp.join("never");
    Queue.openPublisher(never, { segmentSize: SEGMENT, preallocate: false }).close();
    const patched = readFileSync(join(never, CONTROL_FILE));
    patched.fill(0, CTL_WRITER_EPOCH_OFF, CTL_WRITER_EPOCH_OFF + 8);
    patched.fill(0, CTL_WRITER_HEARTBEAT_OFF, CTL_WRITER_HEARTBEAT_OFF + 8);
    writeFileSync(join(never, CONTROL_FILE), patched);

    const [info, text, neverText] = await Promise.all([cliJson(["inspect", closed]), cli(["inspect", closed]), cli(["inspect", never])]);
    expect(info.writer).toEqual({
      alive: false, stale: false, closed: true, pid: 0, epoch: 2, heartbeatNs: String(heartbeatNs), heartbeatAgeMs: info.writer.heartbeatAgeMs,
    });
    const when = new Date(Number(heartbeatNs / 1_000_000n)).toISOString();
    expect(text.stdout).toContain(`writer      closed at ${when} (pid not recorded), epoch 2, heartbeat `);
    expect(text.stdout).not.toContain("never opened");
    expect(neverText.stdout).toContain("writer      never opened, epoch 0, heartbeat - ago");
  });

  test("lag bytes and lag records of a reader agree while the writer appends (one snapshot)", async () => {
    using tmp = new TempDir();
    const payload = 100;
    // 4 MiB segments: the writer does not roll during the test, so the reader stays in the newest segment.
    const child = spawnFixture("cli-writer.ts", [tmp.path, String(4 << 20), "10", String(payload), "stream"], baseEnv);
    await using _child = child;
    expect(await child.line()).toStartWith("ready ");
    {
      using reader = Queue.openSubscriber(tmp.path, "r");
      while (reader.next() !== null);
      reader.commit();
    }
    const runs = await Promise.all(Array.from({ length: 8 }, () => cliJson(["inspect", tmp.path])));
    for (const info of runs) {
      const r = info.readers[0];
      expect(r.lagRecords).not.toBeNull();
      expect(r.lagBytes).toBe(r.lagRecords * recordLength(payload));
    }
  });

  test("a queue without readers says so", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    const r = await cli(["inspect", tmp.path]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`head        segment 0 offset ${FIRST_OFFSET}, last seq -1\n`);
    expect(r.stdout).toContain("readers     none");
    expect(r.stdout).toContain("sleepers    0 registered\n");
  });

  test("sleepers: a reader asleep in another process is counted (v2); v1 does not track them", async () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    Queue.openPublisher(dir, { segmentSize: SEGMENT, preallocate: false }).close();
    await using sleeper = spawnFixture("wait-reader.ts", [dir, "sleepy", "hybrid", "inf"]);
    await sleeper.until((l) => l === "waiting 0");
    const info = await eventually(() => cliJson(["inspect", dir]), (i) => i.waitersPending === 1, 15_000, 20);
    expect(info.waitersPending).toBe(1);
    expect((await cli(["inspect", dir])).stdout).toContain("sleepers    1 registered\n");

    const v1 = tmp.join("v1");
    Queue.openPublisher(v1, { formatVersion: 1 }).close();
    expect((await cliJson(["inspect", v1])).waitersPending).toBeNull();
    expect((await cli(["inspect", v1])).stdout).toContain("sleepers    not tracked (format v1)\n");
  });
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/**
 * Ten records: even seqs are printable text, odd seqs binary (20 bytes: two dump rows, starting
 * 00 ff 10 41); type is
 * seq % 3 + 1. Leaves one named reader so the readers/ directory exists.
 */
function tailQueue(dir: string): void {
  using writer = Queue.openPublisher(dir, { segmentSize: SEGMENT, preallocate: false });
  for (let i = 0; i < 10; i++) {
    const payload = i % 2 === 0 ? text(`message ${i} é`) : Uint8Array.from({ length: 20 }, (_, k) => [0x00, 0xff, 0x10, 0x41][k] ?? i * 16 + k);
    writer.append((i % 3) + 1, payload);
  }
  Queue.openSubscriber(dir, "app").close();
}

interface Stored {
  seq: number;
  typeId: number;
  timestampNs: bigint;
  payload: Uint8Array;
}

function readStored(dir: string): Stored[] {
  return readRecords(dir, (m) => ({ seq: m.seq, typeId: m.typeId, timestampNs: m.timestampNs, payload: m.payload.slice() }));
}

const isoOf = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();

/** The fields tail --json prints for a stored record. */
function expectedJson(r: Stored): Record<string, unknown> {
  const printable = r.seq % 2 === 0;
  return {
    seq: r.seq,
    timestampNs: r.timestampNs.toString(),
    time: isoOf(r.timestampNs),
    typeId: r.typeId,
    length: r.payload.length,
    ...(printable ? { text: new TextDecoder().decode(r.payload) } : { hex: Buffer.from(r.payload).toString("hex") }),
  };
}

const jsonLines = (stdout: string): any[] => stdout.trimEnd().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));

describe("tail", () => {
  test("prints seq, ISO time, ns, type and length, then the payload as UTF-8 text or a hex + ASCII dump", async () => {
    using tmp = new TempDir();
    tailQueue(tmp.path);
    const stored = readStored(tmp.path);
    const readersBefore = listing(tmp.join(READERS_DIR));
    const r = await cli(["tail", tmp.path]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const lines = r.stdout.trimEnd().split("\n");
    // Text records take one line, binary ones a header line and two dump rows.
    expect(lines).toHaveLength(5 + 5 * 3);
    let i = 0;
    for (const s of stored) {
      const head = `${s.seq}  ${isoOf(s.timestampNs)}  ${s.timestampNs}  type ${s.typeId}  len ${s.payload.length}`;
      if (s.seq % 2 === 0) {
        expect(lines[i++]).toBe(`${head}  ${JSON.stringify(`message ${s.seq} é`)}`);
      } else {
        expect(lines[i++]).toBe(head);
        const hex = [...s.payload].map((b) => b.toString(16).padStart(2, "0"));
        const ascii = [...s.payload].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "."));
        expect(lines[i++]).toBe(`    000000  ${hex.slice(0, 16).join(" ")}  ${ascii.slice(0, 16).join("")}`);
        expect(lines[i++]).toBe(`    000010  ${hex.slice(16).join(" ").padEnd(47)}  ${ascii.slice(16).join("")}`);
      }
    }
    // Record 1 starts 00 ff 10 41: only the 'A' is printable in the ASCII column.
    expect(lines[2]).toStartWith("    000000  00 ff 10 41 ");
    expect(lines[2]).toContain("  ...A");
    expect(listing(tmp.join(READERS_DIR))).toEqual(readersBefore);
  });

  test("--json: one object per line with seq, timestampNs, ISO time, typeId, length and text or hex", async () => {
    using tmp = new TempDir();
    tailQueue(tmp.path);
    const stored = readStored(tmp.path);
    const r = await cli(["tail", tmp.path, "--json"]);
    expect(r.code).toBe(0);
    const objects = jsonLines(r.stdout);
    expect(objects).toEqual(stored.map(expectedJson));
    for (const o of objects) {
      expect(o.timestampNs).toMatch(/^\d+$/);
      expect(o.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  test("--from <seq> / earliest / latest, --type and --limit select the records", async () => {
    using tmp = new TempDir();
    tailQueue(tmp.path);
    const stored = readStored(tmp.path);
    const readersBefore = listing(tmp.join(READERS_DIR));
    const cases: [string[], number[]][] = [
      [["--from", "earliest"], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]],
      [["--from", "6"], [6, 7, 8, 9]],
      [["--from=9"], [9]],
      [["--from", "10"], []],
      [["--from", "latest"], []],
      [["--type", "2"], [1, 4, 7]],
      [["--type", "3", "--from", "3"], [5, 8]],
      [["--limit", "3"], [0, 1, 2]],
      [["--limit", "2", "--from", "4", "--type", "2"], [4, 7]],
      [["--limit", "0"], []],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(["tail", tmp.path, "--json", ...args])));
    runs.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(jsonLines(r.stdout)).toEqual(cases[i]![1].map((seq) => expectedJson(stored[seq]!)));
    });
    // Anonymous reading: no reader meta (and no temp file) appeared.
    expect(listing(tmp.join(READERS_DIR))).toEqual(readersBefore);
  });

  test("-f prints records appended after it started, creates no reader file, and exits cleanly on SIGINT", async () => {
    using tmp = new TempDir();
    tailQueue(tmp.path);
    const readersBefore = listing(tmp.join(READERS_DIR));
    using writer = Queue.openPublisher(tmp.path, { preallocate: false });
    await using tail = follow(["tail", tmp.path, "-f", "--json"]);
    for (let seq = 0; seq < 10; seq++) expect(JSON.parse(await tail.line()).seq).toBe(seq);
    expect(listing(tmp.join(READERS_DIR))).toEqual(readersBefore);

    writer.append(7, text("after start"));
    expect(JSON.parse(await tail.line())).toMatchObject({ seq: 10, typeId: 7, text: "after start" });
    writer.append(8, new Uint8Array([0, 1, 2]));
    expect(JSON.parse(await tail.line())).toMatchObject({ seq: 11, typeId: 8, length: 3, hex: "000102" });
    expect(listing(tmp.join(READERS_DIR))).toEqual(readersBefore);

    tail.kill("SIGINT");
    const end = await tail.exit();
    expect(end.signal).toBeNull();
    expect([0, 130]).toContain(end.code!);
    expect(end.stderr).toBe("");
    expect(end.lines).toEqual([]);
  });

  test("-f --from latest prints only records appended after it started", async () => {
    using tmp = new TempDir();
    tailQueue(tmp.path);
    using writer = Queue.openPublisher(tmp.path, { preallocate: false });
    await using tail = follow(["tail", tmp.path, "-f", "--from", "latest", "--json"]);
    // Nothing tells when tail has taken its starting point: append until a record shows up.
    const first = tail.line();
    let appended = 0;
    do writer.append(5, text(`late ${appended++}`));
    while (!(await Promise.race([first.then(() => true), Bun.sleep(200).then(() => false)])) && appended < 100);
    const o = JSON.parse(await first);
    expect(o.seq).toBeGreaterThanOrEqual(10);
    expect(o).toMatchObject({ typeId: 5, text: `late ${o.seq - 10}` });
    tail.kill("SIGTERM");
    const end = await tail.exit();
    expect(end.code).toBe(0);
    expect(end.stderr).toBe("");
  });
});

interface Tree extends Disposable {
  root: string;
  q: (name: string) => string;
}

/**
 * A tree of queues, one problem each (except "healthy", whose live writer's temp file is work in
 * progress, not a leftover). Doctor runs with --ttl 50, so "gone" (closed 100 ms ago) is dead.
 */
async function problemTree(tmp: TempDir): Promise<Tree> {
  const q = (name: string): string => tmp.join(name);
  const held: Disposable[] = [];
  const publisher = (name: string): QueueWriter => {
    const w = Queue.openPublisher(q(name), { segmentSize: SEGMENT, preallocate: false });
    held.push(w);
    return w;
  };
  const subscriber = (name: string, reader: string): QueueReader => {
    const r = Queue.openSubscriber(q(name), reader);
    held.push(r);
    return r;
  };

  publisher("healthy").append(1, text("ok"));
  subscriber("healthy", "ok").commit();
  writeFileSync(tempPath(segmentPath(q("healthy"), 1)), "");

  mkdirSync(q("apps"));
  const { child } = await writerChild(q("apps/crashed"), 10, 100);
  await child.killAndWait();
  writeFileSync(tempPath(segmentPath(q("apps/crashed"), 1)), "partial");
  // As a reader meta being created by process 4242 would leave it.
  writeFileSync(tempPath(`${readerMetaPath(q("apps/crashed"), "x")}.4242`), "partial");

  publisher("dead-reader").append(1, text("x"));
  Queue.openSubscriber(q("dead-reader"), "gone").close();

  publisher("corrupt-reader");
  writeFileSync(readerMetaPath(q("corrupt-reader"), "bad"), new Uint8Array(READER_META_SIZE).fill(0xab));

  const retention = publisher("retention");
  for (let i = 0; i < 200; i++) retention.append(1, new Uint8Array(1000));

  Queue.openPublisher(q("broken-control"), { segmentSize: SEGMENT, preallocate: false }).close();
  corruptControl(q("broken-control"));

  await Bun.sleep(100);
  return {
    root: tmp.path,
    q,
    [Symbol.dispose]() {
      for (const h of held) h[Symbol.dispose]();
    },
  };
}

describe("doctor", () => {
  test("reports stale writer locks, dead readers, corrupt metadata, leftover temp files (each with an action) and retention (information); exit 1", async () => {
    using tmp = new TempDir();
    using tree = await problemTree(tmp);
    const [report, human] = await Promise.all([cliJson(["doctor", tree.root, "--ttl", "50"], 1), cli(["doctor", tree.root, "--ttl", "50"])]);
    const names = ["apps/crashed", "broken-control", "corrupt-reader", "dead-reader", "healthy", "retention"];
    expect(report.root).toBe(tree.root);
    expect(report.queues).toEqual(names.map(tree.q));
    const kinds = (name: string): string[] => report.findings.filter((f: any) => f.queue === tree.q(name)).map((f: any) => f.kind).sort();
    expect(kinds("healthy")).toEqual([]);
    expect(kinds("apps/crashed")).toEqual(["stale-writer-lock", "temp-file", "temp-file"]);
    expect(kinds("broken-control")).toEqual(["corrupt-metadata"]);
    expect(kinds("corrupt-reader")).toEqual(["corrupt-metadata"]);
    expect(kinds("dead-reader")).toEqual(["dead-reader"]);
    expect(kinds("retention")).toEqual(["retention-eligible"]);
    // Retention is information: every other finding is a problem, and every finding says what to do.
    expect(report.findings.filter((f: any) => f.severity === "info").map((f: any) => f.kind)).toEqual(["retention-eligible"]);
    expect(report.problems).toBe(report.findings.length - 1);
    expect(report.findings.every((f: any) => f.fixed === undefined)).toBe(true);
    for (const f of report.findings) expect(f.action).toMatch(/\w{3,}/);
    expect(report.findings.find((f: any) => f.kind === "dead-reader").action).toContain("--prune-readers-older-than");

    const find = (name: string, kind: string): any[] => report.findings.filter((f: any) => f.queue === tree.q(name) && f.kind === kind);
    expect(find("apps/crashed", "temp-file").map((f) => f.path).sort()).toEqual([
      tempPath(segmentPath(tree.q("apps/crashed"), 1)),
      tempPath(`${readerMetaPath(tree.q("apps/crashed"), "x")}.4242`),
    ]);
    expect(find("apps/crashed", "stale-writer-lock")[0].detail).toContain("pid");
    expect(find("broken-control", "corrupt-metadata")[0]).toMatchObject({ path: join(tree.q("broken-control"), CONTROL_FILE) });
    expect(find("broken-control", "corrupt-metadata")[0].detail).toContain("magic");
    expect(find("corrupt-reader", "corrupt-metadata")[0]).toMatchObject({ path: readerMetaPath(tree.q("corrupt-reader"), "bad") });
    expect(find("dead-reader", "dead-reader")[0]).toMatchObject({ path: readerMetaPath(tree.q("dead-reader"), "gone") });
    const retained = listSegmentIds(tree.q("retention"));
    expect(retained.length).toBeGreaterThanOrEqual(3);
    expect(find("retention", "retention-eligible")[0].detail).toContain(`segments 0..${retained.length - 2} (${retained.length - 1})`);

    expect(human.code).toBe(1);
    expect(human.stderr).toBe("");
    const out = human.stdout;
    expect(out).toStartWith(`6 queue(s) under ${tree.root}\n`);
    expect(out).toMatch(/^queue\s+problem\s+detail\s+action$/m);
    for (const f of report.findings) {
      expect(out).toMatch(new RegExp(`^${f.queue.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s+${f.kind}\\s`, "m"));
    }
    expect(out).not.toContain("fixed");
    expect(out).toMatch(/\sretention-eligible \(info\)\s.+\scleanup\(\)/);
    expect(out).toEndWith(`${report.problems} problem(s) remain\n`);
  });

  test("--fix removes only leftover temp files, and says what it did; a dead reader keeps its saved position", async () => {
    using tmp = new TempDir();
    using tree = await problemTree(tmp);
    const crashedBefore = listing(tree.q("apps/crashed"));
    const fixed = await cli(["doctor", tree.root, "--ttl", "50", "--fix"]);
    // Stale lock, corrupt metadata and retention are left for a human: still a problem.
    expect(fixed.code).toBe(1);
    expect(fixed.stderr).toBe("");
    const fixedRows = fixed.stdout.split("\n").filter((l) => /\sfixed$/.test(l));
    expect(fixedRows).toHaveLength(2);
    expect(fixedRows.filter((l) => /\stemp-file\s/.test(l))).toHaveLength(2);

    expect(listing(tree.q("apps/crashed"))).toEqual(crashedBefore.filter((n) => n !== tempPath(segmentFileName(1))));
    expect(listing(join(tree.q("apps/crashed"), READERS_DIR))).toEqual([]);
    expect(existsSync(readerMetaPath(tree.q("dead-reader"), "gone"))).toBe(true);
    // Everything else is untouched: a live writer's temp file, live and corrupt reader metas,
    // segments, writer locks, the corrupt control block.
    expect(existsSync(tempPath(segmentPath(tree.q("healthy"), 1)))).toBe(true);
    expect(existsSync(readerMetaPath(tree.q("healthy"), "ok"))).toBe(true);
    expect(existsSync(readerMetaPath(tree.q("corrupt-reader"), "bad"))).toBe(true);
    expect(existsSync(join(tree.q("apps/crashed"), WRITER_LOCK_FILE))).toBe(true);
    expect(listSegmentIds(tree.q("retention")).length).toBeGreaterThanOrEqual(3);
    expect(existsSync(join(tree.q("broken-control"), CONTROL_FILE))).toBe(true);

    // What --fix did is gone from the next report; the rest remains.
    const again = await cliJson(["doctor", tree.root, "--ttl", "50", "--fix"], 1);
    expect(again.findings.map((f: any) => f.kind).sort()).toEqual(["corrupt-metadata", "corrupt-metadata", "dead-reader", "retention-eligible", "stale-writer-lock"]);
    expect(again.findings.every((f: any) => f.fixed === undefined)).toBe(true);
    expect(again.problems).toBe(4);
  });

  test("--fix --prune-readers-older-than removes the saved position of a dead reader older than that, and only then", async () => {
    using tmp = new TempDir();
    using tree = await problemTree(tmp);
    const gone = readerMetaPath(tree.q("dead-reader"), "gone");
    // "gone" closed at least 100 ms ago: not older than a day, older than 50 ms.
    const young = await cliJson(["doctor", tree.root, "--ttl", "50", "--fix", "--prune-readers-older-than", "1d"], 1);
    expect(young.findings.find((f: any) => f.kind === "dead-reader").fixed).toBeUndefined();
    expect(existsSync(gone)).toBe(true);
    const old = await cliJson(["doctor", tree.root, "--ttl", "50", "--fix", "--prune-readers-older-than", "50ms"], 1);
    expect(old.findings.find((f: any) => f.kind === "dead-reader")).toMatchObject({ path: gone, fixed: true });
    expect(existsSync(gone)).toBe(false);
    // Live and corrupt reader metas are never pruned.
    expect(existsSync(readerMetaPath(tree.q("healthy"), "ok"))).toBe(true);
    expect(existsSync(readerMetaPath(tree.q("corrupt-reader"), "bad"))).toBe(true);
  });

  test("--prune-readers-older-than without --fix, or with a bad duration, is a usage error", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    const [alone, bad] = await Promise.all([
      cli(["doctor", tmp.path, "--prune-readers-older-than", "7d"]),
      cli(["doctor", tmp.path, "--fix", "--prune-readers-older-than", "soon"]),
    ]);
    expectUsageError(alone, /--prune-readers-older-than takes effect only with --fix/);
    expectUsageError(bad, /--prune-readers-older-than must be a duration/);
  });

  test("a running queue with segments eligible for retention exits 0: retention is information", async () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
    for (let i = 0; i < 200; i++) writer.append(1, new Uint8Array(1000));
    using reader = Queue.openSubscriber(tmp.path, "r", { start: "latest" });
    reader.commit();
    const [human, report] = await Promise.all([cli(["doctor", tmp.path]), cliJson(["doctor", tmp.path])]);
    expect(report.problems).toBe(0);
    expect(report.findings.map((f: any) => [f.kind, f.severity])).toEqual([["retention-eligible", "info"]]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/\sretention-eligible \(info\)\s/);
    expect(human.stdout).toEndWith("no problems remain\n");
  });

  test("--help documents every option", async () => {
    const help = await cli(["doctor", "--help"]);
    expect(help.code).toBe(0);
    for (const option of ["--fix", "--prune-readers-older-than", "--ttl", "--max-lag", "--json"]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${option}\\s`, "m"));
    }
  });

  test("--fix --json marks what it fixed", async () => {
    using tmp = new TempDir();
    using tree = await problemTree(tmp);
    const report = await cliJson(["doctor", tree.root, "--ttl", "50", "--fix"], 1);
    const fixed = report.findings.filter((f: any) => f.fixed === true).map((f: any) => f.kind).sort();
    expect(fixed).toEqual(["temp-file", "temp-file"]);
    // Less the fixed ones and the information (retention).
    expect(report.problems).toBe(report.findings.length - 3);
  });

  test("a tree of healthy queues (and an empty directory) exits 0; a root without queues exits 2", async () => {
    using tmp = new TempDir();
    using a = Queue.openPublisher(tmp.join("a"), { segmentSize: SEGMENT, preallocate: false });
    mkdirSync(tmp.join("nested"));
    using b = Queue.openPublisher(tmp.join("nested", "b"), { segmentSize: SEGMENT, preallocate: false });
    a.append(1, text("a"));
    b.append(1, text("b"));
    using reader = Queue.openSubscriber(tmp.join("a"), "r");
    reader.commit();
    // A writer that closed cleanly is not a stale lock (one killed is: see the test above).
    Queue.openPublisher(tmp.join("closed"), { segmentSize: SEGMENT, preallocate: false }).close();
    mkdirSync(tmp.join("empty"));
    const [human, report, empty] = await Promise.all([
      cli(["doctor", tmp.path]),
      cliJson(["doctor", tmp.path]),
      cli(["doctor", tmp.join("empty")]),
    ]);
    expect(human.code).toBe(0);
    expect(human.stdout).toBe(`3 queue(s) under ${tmp.path}\nno problems found\n`);
    expect(report).toEqual({ root: tmp.path, queues: [tmp.join("a"), tmp.join("closed"), tmp.join("nested", "b")], findings: [], problems: 0 });
    expectUsageError(empty, /no chronicle queue under .*empty/);
  });
});

describe("bench", () => {
  test("--size 64 --count 20000 prints a table; --json gives the measures", async () => {
    const [human, json] = await Promise.all([cli(["bench", "--size", "64", "--count", "20000"]), cli(["bench", "--size", "64", "--count", "20000", "--json"])]);
    expect(human.code).toBe(0);
    // A line per phase on stderr as it starts; stdout holds only the results.
    expect(human.stderr).toBe("bench: append and read 20000 messages of 64 B...\nbench: one-way latency, 2000 samples from a writer process...\n");
    expect(human.stdout).toStartWith("payload 64 B, 20000 messages");
    expect(human.stdout).toMatch(/^measure\s+value$/m);
    expect(human.stdout).toMatch(/^append\s+\d+\.\d\d M msg\/s\s+\d+ MB\/s$/m);
    expect(human.stdout).toMatch(/^read \(CRC checked\)\s+\d+\.\d\d M msg\/s\s+\d+ MB\/s$/m);
    for (const p of ["p50", "p99", "max"]) expect(human.stdout).toMatch(new RegExp(`^one-way latency ${p}\\s+\\d+\\.\\d µs$`, "m"));

    expect(json.code).toBe(0);
    expect(json.stderr).toBe(human.stderr);
    const report = JSON.parse(json.stdout);
    expect(Object.keys(report).sort()).toEqual(["appendPerSec", "count", "latencyUs", "readPerSec", "size"]);
    expect(report).toMatchObject({ size: 64, count: 20000 });
    expect(report.appendPerSec).toBeGreaterThan(0);
    expect(report.readPerSec).toBeGreaterThan(0);
    const { p50, p99, max } = report.latencyUs;
    expect(p50).toBeGreaterThan(0);
    expect(p99).toBeGreaterThanOrEqual(p50);
    expect(max).toBeGreaterThanOrEqual(p99);
  }, 30_000);
});

describe("arguments and paths", () => {
  test("--help for every command exits 0 and prints its usage", async () => {
    const runs = await Promise.all([["--help"], ["inspect", "--help"], ["tail", "-h"], ["doctor", "--help"], ["bench", "--help"]].map((a) => cli(a)));
    const heads = ["usage: chronicle <command>", "usage: chronicle inspect <queue>", "usage: chronicle tail <queue>", "usage: chronicle doctor <root>", "usage: chronicle bench"];
    runs.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toStartWith(heads[i]!);
    });
    expect(runs[2]!.stdout).toContain("--from");
    expect(runs[3]!.stdout).toContain("--fix");
  });

  test("bad arguments exit 2 with a one-line message", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /unknown command "frobnicate"/],
      [["inspect"], /missing <queue>/],
      [["tail"], /missing <queue>/],
      [["doctor"], /missing <root>/],
      [["inspect", tmp.path, "--bogus"], /unknown option --bogus/],
      [["tail", tmp.path, "--bogus"], /unknown option --bogus/],
      [["doctor", tmp.path, "--bogus"], /unknown option --bogus/],
      [["bench", "--bogus"], /unknown option --bogus/],
      [["tail", tmp.path, "--limit", "abc"], /--limit must be a non-negative integer, got abc/],
      [["tail", tmp.path, "--from", "soon"], /--from must be earliest, latest or a seq/],
      [["tail", tmp.path, "--type", "x"], /--type must be/],
      [["tail", tmp.path, "--limit"], /--limit needs a value/],
      [["inspect", tmp.path, "--ttl", "-1"], /--ttl must be/],
      [["doctor", tmp.path, "--max-lag", "lots"], /--max-lag must be/],
      [["bench", "--count", "1.5"], /--count must be/],
      [["bench", "--count", "0"], /--count must be an integer >= 1, got 0/],
      [["inspect", tmp.path, "--json=yes"], /--json takes no value/],
      [["tail", tmp.path, "--follow=1"], /--follow takes no value/],
      [["doctor", tmp.path, "--fix=no"], /--fix takes no value/],
      [["bench", "--json="], /--json takes no value/],
      [["inspect", tmp.path, "extra"], /unexpected argument "extra"/],
      [["tail", tmp.path, tmp.path], /unexpected argument/],
      [["doctor", tmp.path, "more"], /unexpected argument "more"/],
      [["bench", "now"], /unexpected argument "now"/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((r, i) => expectUsageError(r, cases[i]![1]));
  });

  test("no command: the usage goes to stderr, exit 2; --help prints it on stdout, exit 0", async () => {
    const [bare, help] = await Promise.all([cli([]), cli(["--help"])]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe("");
    expect(bare.stderr).toStartWith("usage: chronicle <command>");
    expect(help.code).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toBe(bare.stderr);
  });

  test("a path that is not a queue exits 2: empty directory, regular file, missing path", async () => {
    using tmp = new TempDir();
    mkdirSync(tmp.join("empty"));
    writeFileSync(tmp.join("file"), "not a queue");
    const cases: [string[], RegExp][] = [];
    for (const command of ["inspect", "tail"]) {
      cases.push([[command, tmp.join("empty")], /is not a chronicle queue \(no control\.meta\)/]);
      cases.push([[command, tmp.join("file")], /is not a directory/]);
      cases.push([[command, tmp.join("missing")], /missing does not exist/]);
    }
    cases.push([["doctor", tmp.join("file")], /is not a directory/]);
    cases.push([["doctor", tmp.join("missing")], /missing does not exist/]);
    const runs = await Promise.all(cases.map(([args]) => cli(args)));
    runs.forEach((r, i) => expectUsageError(r, cases[i]![1]));
    expect(listing(tmp.path)).toEqual(["empty", "file"]);
    expect(listing(tmp.join("empty"))).toEqual([]);
  });

  test("a corrupt control.meta is a one-line error naming the file, no stack trace", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    corruptControl(tmp.path);
    const truncated = tmp.join("truncated");
    Queue.openPublisher(truncated, { segmentSize: SEGMENT, preallocate: false }).close();
    writeFileSync(join(truncated, CONTROL_FILE), readFileSync(join(truncated, CONTROL_FILE)).subarray(0, 100));
    const runs = await Promise.all([
      cli(["inspect", tmp.path]),
      cli(["inspect", tmp.path, "--json"]),
      cli(["tail", tmp.path]),
      cli(["inspect", truncated]),
      cli(["tail", truncated, "-f"]),
    ]);
    runs.forEach((r, i) => {
      const line = expectOneLineError(r, 1, i < 3 ? /magic/ : new RegExp(`100 bytes, expected ${CONTROL_SIZE}`));
      expect(line).toContain(CONTROL_FILE);
    });
  });

  test("colour only on a terminal: none with NO_COLOR, none when piped", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    // Piped output (the cli() helper asserts no escape codes for every run in this file).
    const [piped, noColour] = await Promise.all([cli(["inspect", tmp.path]), cli(["inspect", tmp.path], { NO_COLOR: "1" })]);
    expect(piped.code).toBe(0);
    expect(noColour.code).toBe(0);

    if (Bun.which("script") === null) {
      console.log("skipping the terminal half: util-linux `script` (to get a pty) is not installed");
      return;
    }
    // `script` runs the CLI on a pseudo-terminal, where colour is on unless NO_COLOR is set.
    const onTty = async (env: Record<string, string>): Promise<string> => {
      const { code, stdout: out } = await runToEnd(["script", "-qec", `bun ${CLI} inspect ${tmp.path}`, "/dev/null"], { env: { ...baseEnv, ...env } });
      expect(code).toBe(0);
      expect(out).toContain("format      v2");
      return out;
    };
    const [coloured, plain] = await Promise.all([onTty({}), onTty({ NO_COLOR: "1" })]);
    expect(coloured).toContain(`${ANSI}[`);
    expect(plain).not.toContain(ANSI);
  });
});
