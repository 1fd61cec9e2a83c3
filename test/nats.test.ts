/**
 * The JetStream bridges against real nats-server processes: round trip byte for byte, kill -9 of
 * either bridge while records keep coming, a 3-node R3 cluster losing a node and then all of
 * them, and bad input. CHRONICLE_NATS_RECORDS sets the round trip's size (default 10,000; the
 * full 100,000 run: `CHRONICLE_NATS_RECORDS=100000 bun test test/nats.test.ts -t "round trip"`).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
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

async function addStream(urls: string[], name: string, subjects: string[], replicas = 1): Promise<void> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name, subjects, num_replicas: replicas });
  } finally {
    await nc.close();
  }
}

/** Every message of the stream: [Chronicle-Source, Chronicle-Seq] in stream order. */
async function streamSeqs(urls: string[], stream: string): Promise<number[]> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info(stream)).state.last_seq;
    const seqs: number[] = [];
    for (let s = 1; s <= last; s++) {
      const m = await jsm.streams.getMessage(stream, { seq: s });
      if (m !== null) seqs.push(Number(m.header.get(HEADER.seq)));
    }
    return seqs;
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
    await Bun.sleep(20);
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
