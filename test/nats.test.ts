/**
 * The JetStream bridges against real nats-server processes: round trip byte for byte, kill -9 of
 * either bridge while records keep coming, a 3-node R3 cluster losing a node and then all of
 * them, and bad input. CHRONICLE_NATS_RECORDS sets the round trip's size (default 10,000; the
 * full 100,000 run: `CHRONICLE_NATS_RECORDS=100000 bun test test/nats.test.ts -t "round trip"`).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type StreamInfo } from "@nats-io/jetstream";
import { join } from "node:path";
import { BridgeBindingMismatch, PayloadExceedsServerLimit, Queue, StreamMismatch, type QueueWriter } from "../src/index.ts";
import { bridgeFromJetStream, bridgeToJetStream, HEADER, type InboundBridge } from "../src/nats/index.ts";
import { startCluster, startServer, stopAll, freePort, NatsServer } from "./helpers/nats.ts";
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

async function addStream(urls: string[], name: string, subjects: string[], replicas = 1): Promise<StreamInfo> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    return await jsm.streams.add({ name, subjects, num_replicas: replicas });
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
  test(`the outbound bridge killed ${KILLS} times while the writer appends: the stream holds every record exactly once, in order`, async () => {
    const s = await server("kill-out");
    await addStream([s.url], "KO", ["ko"]);
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
  test("one node killed mid-run and restarted later, then every node stopped for seconds: no loss, no duplicates, the bridges resume by themselves", async () => {
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
    await Promise.all(nodes.map((n) => n.kill()));
    await Bun.sleep(2000);
    for (const n of nodes) n.start();
    await Promise.all(nodes.map((n) => n.ready(30_000)));
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
