/**
 * The JetStream bridges against real nats-server processes: round trip byte for byte, kill -9 of
 * either bridge while records keep coming, a 3-node R3 cluster losing its stream leader and then
 * freezing every node, and bad input. CHRONICLE_NATS_RECORDS sets the round trip's size (default 10,000; the
 * full 100,000 run: `CHRONICLE_NATS_RECORDS=100000 bun test test/nats.test.ts -t "round trip"`);
 * CHRONICLE_NATS_KILLS the kill -9 count (default 6). `bun run test:nats:full` runs 100,000 and 20.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BridgeBindingMismatch, PayloadExceedsServerLimit, Queue, ReaderAlreadyActive, StreamMismatch, type QueueWriter } from "../src/index.ts";
import { bridgeFromJetStream, bridgeToJetStream, HEADER } from "../src/nats/index.ts";
import { startCluster, startServer, stopAll, NatsServer } from "./helpers/nats.ts";
import { appendNext } from "./helpers/queue.ts";
import { spawnCommand, type Child } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

const RECORDS = Number(process.env.CHRONICLE_NATS_RECORDS ?? 10_000);
const CLI = join(import.meta.dir, "..", "cli", "main.ts");
const servers: NatsServer[] = [];
const tmp = new TempDir("chronicle-nats-");
afterAll(async () => {
  await stopAll(servers);
  tmp[Symbol.dispose]();
});

async function server(name: string, extra: { maxPayload?: number } = {}): Promise<NatsServer> {
  const s = await startServer(tmp.join(name), extra);
  servers.push(s);
  return s;
}

async function addStream(urls: string[], name: string, subjects: string[], replicas = 1, duplicateWindowMs = 120_000): Promise<StreamInfo> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    return await jsm.streams.add({ name, subjects, num_replicas: replicas, duplicate_window: duplicateWindowMs * 1e6 });
  } finally {
    await nc.close();
  }
}

/** Appends `n` deterministic records (0..4 KiB, type 1). */
function appendMany(w: QueueWriter, n: number): void {
  for (let i = 0; i < n; i++) appendNext(w, 4096);
}

/** The records of a queue: [typeId, timestampNs, payload]. */
function records(dir: string): { typeId: number; ts: bigint; payload: Uint8Array; seq: number }[] {
  using r = Queue.openAnonymous(dir, { start: "earliest" });
  const out = [];
  for (let m = r.next(); m !== null; m = r.next()) out.push({ typeId: m.typeId, ts: m.timestampNs, payload: m.payload.slice(), seq: m.seq });
  return out;
}

function countRecords(dir: string): number {
  using r = Queue.openAnonymous(dir, { start: "earliest" });
  let n = 0;
  while (r.next() !== null) n++;
  return n;
}

/** The inbound queue holds the source's records, in order, byte for byte (type, timestamp, payload). */
function expectReplica(source: string, replica: string): void {
  const a = records(source);
  const b = records(replica);
  expect(b.length).toBe(a.length);
  let mismatches = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.typeId !== y.typeId || x.ts !== y.ts || Buffer.compare(x.payload, y.payload) !== 0) mismatches++;
  }
  expect(mismatches).toBe(0);
}

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

describe("round trip", () => {
  test(`${RECORDS} records of 0..4 KiB out and back in: the inbound queue equals the source byte for byte, in order`, async () => {
    const s = await server("rt");
    await addStream([s.url], "RT", ["rt.>"]);
    const src = tmp.join("rt-src");
    const dst = tmp.join("rt-dst");
    using w = Queue.openPublisher(src, { segmentSize: 16 << 20 });
    appendMany(w, RECORDS);
    await using out = bridgeToJetStream({ queue: src, readerName: "bridge", servers: s.url, stream: "RT", subject: "rt.a" });
    await using inb = bridgeFromJetStream({ servers: s.url, stream: "RT", durable: "rt", queue: dst, writer: { segmentSize: 16 << 20 } });
    await until("all records replicated", () => inb.stats.appended === RECORDS, 120_000);
    expect(out.stats.published).toBe(RECORDS);
    await out.stop();
    await inb.stop();
    expectReplica(src, dst);
  }, 180_000);
});

const KILLS = Number(process.env.CHRONICLE_NATS_KILLS ?? 6);

/** Every message of the stream through an ordered consumer: the Chronicle-Seq headers in stream order. */
async function streamRecordSeqs(urls: string[], stream: string): Promise<number[]> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(stream)).state.messages;
    const seqs: number[] = [];
    if (total === 0) return seqs;
    const c = await jetstream(nc).consumers.get(stream);
    const it = await c.consume();
    for await (const m of it) {
      seqs.push(Number(m.headers?.get(HEADER.seq)));
      if (seqs.length === total) break;
    }
    return seqs;
  } finally {
    await nc.close();
  }
}

/** Starts `chronicle bridge <args>` and waits for its "ready". */
async function cliBridge(args: string[]): Promise<Child> {
  const c = spawnCommand(["bun", CLI, "bridge", ...args]);
  expect(await c.line()).toBe("ready");
  return c;
}

/** Keeps appending `perTick` records every few ms until stopped; resolves with the total. */
function keepAppending(w: QueueWriter, perTick: number): { stop: () => Promise<number> } {
  let running = true;
  const loop = (async () => {
    while (running && !w.isClosed) {
      appendMany(w, perTick);
      await Bun.sleep(5);
    }
    return w.nextSeq;
  })();
  return { stop: () => ((running = false), loop) };
}

const randomMs = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo));

describe("kill -9", () => {
  test(`the outbound bridge killed ${KILLS} times while the writer appends (duplicate window 100 ms): the stream holds every record exactly once, in order`, async () => {
    const s = await server("kill-out");
    // A 100 ms duplicate window (the least the server takes): the server's de-duplication cannot hide a record published twice.
    await addStream([s.url], "KO", ["ko"], 1, 100);
    const src = tmp.join("ko-src");
    using w = Queue.openPublisher(src);
    const writer = keepAppending(w, 20);
    const args = ["out", src, "--servers", s.url, "--stream", "KO", "--subject", "ko", "--window", "64"];
    for (let k = 0; k < KILLS; k++) {
      const c = await cliBridge(args);
      await Bun.sleep(randomMs(150, 600));
      await c.killAndWait("SIGKILL");
    }
    const total = await writer.stop();
    const c = await cliBridge(args);
    await until("the stream to hold every record", async () => (await streamRecordSeqs([s.url], "KO")).length >= total, 60_000);
    c.kill("SIGTERM");
    expect((await c.exit()).code).toBe(0);
    const seqs = await streamRecordSeqs([s.url], "KO");
    expect(seqs.length).toBe(total);
    expect(seqs.every((v, i) => v === i)).toBe(true);
  }, 120_000);

  test(`the inbound bridge killed ${KILLS} times while records keep coming: the local queue holds every message exactly once, in order`, async () => {
    const s = await server("kill-in");
    await addStream([s.url], "KI", ["ki"]);
    const src = tmp.join("ki-src");
    const dst = tmp.join("ki-dst");
    using w = Queue.openPublisher(src);
    const writer = keepAppending(w, 10);
    await using out = bridgeToJetStream({ queue: src, readerName: "bridge", servers: s.url, stream: "KI", subject: "ki" });
    const args = ["in", dst, "--servers", s.url, "--stream", "KI", "--durable", "ki"];
    for (let k = 0; k < KILLS; k++) {
      const c = await cliBridge(args);
      await Bun.sleep(randomMs(200, 700));
      await c.killAndWait("SIGKILL");
    }
    const total = await writer.stop();
    await until("the outbound bridge to publish everything", () => out.stats.lastSeq === total - 1, 60_000);
    const c = await cliBridge(args);
    await until("the inbound queue to hold every record", () => countRecords(dst) >= total, 60_000);
    c.kill("SIGTERM");
    expect((await c.exit()).code).toBe(0);
    expectReplica(src, dst);
    // Each record's seq is its message's stream sequence: 1, 2, 3... for a stream of one source.
    expect(records(dst).every((r, i) => r.seq === i + 1)).toBe(true);
  }, 120_000);
});

describe("3-node cluster, R3 stream", () => {
  test("one node killed mid-run and restarted later, then every node frozen for 3 s: no loss, no duplicates, the bridges resume by themselves", async () => {
    const nodes = await startCluster(tmp.join("cluster"));
    servers.push(...nodes);
    const urls = nodes.map((n) => n.url);
    let leaderName = "";
    await until("the R3 stream to be created", async () => {
      try {
        leaderName = (await addStream(urls, "CL", ["cl.>"], 3)).cluster?.leader ?? "";
        return true;
      } catch {
        return false;
      }
    });
    const src = tmp.join("cl-src");
    const dst = tmp.join("cl-dst");
    using w = Queue.openPublisher(src);
    const common = { servers: urls, stream: "CL", timeoutMs: 2000, backoff: { initialMs: 100, maxMs: 1000 } };
    await using out = bridgeToJetStream({ ...common, queue: src, readerName: "bridge", subject: "cl.a" });
    await using inb = bridgeFromJetStream({ ...common, queue: dst, durable: "cl" });
    const writer = keepAppending(w, 10);
    const progress = async (): Promise<void> => {
      const [o, i] = [out.stats.lastSeq, inb.stats.appended];
      await until("both bridges to move on", () => out.stats.lastSeq > o + 100 && inb.stats.appended > i + 100);
    };
    await progress();
    // The stream's leader: the node whose loss costs an election.
    const leader = nodes.find((n) => n.options.name === leaderName)!;
    await leader.kill();
    await progress();
    leader.start();
    await leader.ready(30_000);
    await progress();
    // Every node frozen (SIGSTOP): connections stay up but nothing answers, the harder case for a client.
    for (const n of nodes) n.signal("SIGSTOP");
    await Bun.sleep(3000);
    for (const n of nodes) n.signal("SIGCONT");
    await progress();
    const total = await writer.stop();
    await until("everything to be replicated", () => inb.stats.lastStreamSeq > 0 && out.stats.lastSeq === total - 1 && countRecords(dst) >= total, 60_000);
    expect(out.stats.retries).toBeGreaterThan(0);
    const seqs = await streamRecordSeqs(urls, "CL");
    expect(seqs.length).toBe(total);
    expect(seqs.every((v, i) => v === i)).toBe(true);
    await inb.stop();
    expectReplica(src, dst);
  }, 120_000);
});

/** The messages of a stream: payload and headers, in stream order (for small streams). */
async function streamMessages(url: string, stream: string): Promise<{ data: Uint8Array; source: string; seq: string }[]> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info(stream)).state.last_seq;
    const out = [];
    for (let q = 1; q <= last; q++) {
      const m = await jsm.streams.getMessage(stream, { seq: q });
      if (m !== null) out.push({ data: m.data, source: m.header.get(HEADER.source), seq: m.header.get(HEADER.seq) });
    }
    return out;
  } finally {
    await nc.close();
  }
}

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

describe("identity and bad input", () => {
  test("a queue deleted and re-created publishes under a new identity: its records do not collide with its predecessor's", async () => {
    const s = await server("incarnation");
    await addStream([s.url], "INC", ["inc"]);
    const dir = tmp.join("inc");
    for (const fill of [1, 2]) {
      rmSync(dir, { recursive: true, force: true });
      using w = Queue.openPublisher(dir);
      for (let i = 0; i < 3; i++) w.append(1, bytes(10, fill));
      await using b = bridgeToJetStream({ queue: dir, readerName: "bridge", servers: s.url, stream: "INC", subject: "inc" });
      await until("three records published", () => b.stats.published === 3);
    }
    const msgs = await streamMessages(s.url, "INC");
    expect(msgs.map((m) => [m.data[0], m.seq])).toEqual([[1, "0"], [1, "1"], [1, "2"], [2, "0"], [2, "1"], [2, "2"]]);
    expect(msgs[0]!.source).not.toBe(msgs[3]!.source);
  }, 30_000);

  test("servers unreachable at start: the bridge waits, retrying with backoff, and publishes once the server is back; a second bridge on its reader name is refused", async () => {
    // The server (and its stream) exist but are down when the bridge starts.
    const s = await server("late");
    await addStream([s.url], "LATE", ["late"]);
    await s.kill();
    const dir = tmp.join("late");
    using w = Queue.openPublisher(dir);
    for (let i = 0; i < 100; i++) w.append(3, bytes(i, i));
    let retries = 0;
    await using b = bridgeToJetStream({
      queue: dir, readerName: "bridge", servers: s.url, stream: "LATE", subject: "late",
      backoff: { initialMs: 50, maxMs: 200 }, onRetry: () => retries++,
    });
    await until("a few retries", () => retries >= 3);
    expect(b.stats.published).toBe(0);
    await s.start().ready();
    await until("everything published", () => b.stats.published === 100);
    expect((await streamMessages(s.url, "LATE")).map((m) => m.data.length)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // A second bridge under the same reader name while this one runs: refused, not retried.
    const twin = bridgeToJetStream({ queue: dir, readerName: "bridge", servers: s.url, stream: "LATE", subject: "late" });
    expect(twin.done).rejects.toThrow(ReaderAlreadyActive);
    await twin.done.catch(() => {});
  }, 30_000);

  test("a stream that does not exist, or whose subjects do not capture the bridge's subject: StreamMismatch, nothing published", async () => {
    const s = await server("subjects");
    await addStream([s.url], "WS", ["other.>"]);
    const dir = tmp.join("ws");
    using w = Queue.openPublisher(dir);
    w.append(1, bytes(5, 5));
    const wrong = bridgeToJetStream({ queue: dir, readerName: "bridge", servers: s.url, stream: "WS", subject: "ws.a" });
    expect(wrong.done).rejects.toThrow(StreamMismatch);
    await wrong.done.catch((e: StreamMismatch) => expect(e.message).toContain("do not capture ws.a"));
    const missing = bridgeToJetStream({ queue: dir, readerName: "bridge", servers: s.url, stream: "NOPE", subject: "ws.a" });
    expect(missing.done).rejects.toThrow(StreamMismatch);
    const inbound = bridgeFromJetStream({ queue: tmp.join("ws-in"), durable: "d", servers: s.url, stream: "NOPE" });
    expect(inbound.done).rejects.toThrow(StreamMismatch);
    await inbound.done.catch(() => {});
    expect((await streamMessages(s.url, "WS")).length).toBe(0);
  }, 30_000);

  test("a record larger than the server's max_payload: PayloadExceedsServerLimit naming it; the bridge stops before it and its position stays there", async () => {
    const s = await server("maxpayload", { maxPayload: 8192 });
    await addStream([s.url], "MP", ["mp"]);
    const dir = tmp.join("mp");
    using w = Queue.openPublisher(dir);
    w.append(1, bytes(100, 1));
    w.append(1, bytes(100, 2));
    w.append(1, bytes(9000, 3));
    w.append(1, bytes(100, 4));
    const b = bridgeToJetStream({ queue: dir, readerName: "bridge", servers: s.url, stream: "MP", subject: "mp" });
    const error = await b.done.then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadExceedsServerLimit);
    expect((error as PayloadExceedsServerLimit).seq).toBe(2);
    expect((error as PayloadExceedsServerLimit).maxPayload).toBe(8192);
    expect((await streamMessages(s.url, "MP")).map((m) => m.data[0])).toEqual([1, 2]);
    using r = Queue.openSubscriber(dir, "bridge");
    expect(r.next()?.seq).toBe(2);
  }, 30_000);

  test("inbound: a queue holding records it did not write is refused (BridgeBindingMismatch); foreign messages are appended with type 0 and their JetStream time", async () => {
    const s = await server("foreign");
    await addStream([s.url], "FO", ["fo.>"]);
    const taken = tmp.join("fo-taken");
    using tw = Queue.openPublisher(taken);
    tw.append(1, bytes(1, 1));
    tw.close();
    const refused = bridgeFromJetStream({ queue: taken, durable: "d", servers: s.url, stream: "FO" });
    expect(refused.done).rejects.toThrow(BridgeBindingMismatch);
    await refused.done.catch(() => {});
    const nc = await connect({ servers: s.url });
    const js = jetstream(nc);
    await js.publish("fo.x", bytes(7, 9));
    await js.publish("fo.y", new Uint8Array(0));
    await nc.close();
    const dst = tmp.join("fo-dst");
    await using inb = bridgeFromJetStream({ queue: dst, durable: "d", servers: s.url, stream: "FO" });
    await until("two foreign messages appended", () => inb.stats.appended === 2);
    expect(inb.stats.foreign).toBe(2);
    await inb.stop();
    const got = records(dst);
    expect(got.map((r) => [r.seq, r.typeId, r.payload.length])).toEqual([[1, 0, 7], [2, 0, 0]]);
    expect(got[0]!.ts > 0n).toBe(true);
  }, 30_000);
});
