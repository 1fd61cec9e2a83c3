/**
 * The JetStream bridge against a plain pipelined JetStream publisher, in the same run.
 *
 *   bun run bench:bridge [--runs N] [--count N]
 *
 * Needs nats-server on PATH (Debian: apt-get install nats-server). Starts a standalone JetStream
 * server (R1 streams) and a 3-node cluster (R3 streams) on loopback, stores in a temp directory.
 * 1. Outbound throughput, 64 B and 1 KiB payloads, `--count` messages (default 20,000) per case:
 *    "plain" publishes them with js.publish, 256 acks in flight, carrying the same headers the
 *    bridge sends (type, seq, timestamp, source, origin, Nats-Msg-Id); "bridge" is
 *    bridgeToJetStream (window 256) already connected to an empty queue, timed from the first
 *    append of a writer that appends the same count in a loop to the last ack. Every case gets a
 *    fresh stream. The two alternate; `--runs` runs (default 3), each run's figures printed.
 * 2. Latency queue -> JetStream -> queue: `chronicle bridge out` and `bridge in` as separate
 *    processes; this process appends a 64 B record every 2 ms (2,000 per run) and a reader of the
 *    inbound queue takes now - the record's timestamp (kept by the bridge) when it arrives.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, type PubAck } from "@nats-io/jetstream";
import { Queue } from "../src/index.ts";
import { bridgeToJetStream, HEADER } from "../src/nats/index.ts";
import { WallClock } from "../src/ffi/index.ts";
import { haveNatsServer, startCluster, startServer, stopAll, type NatsServer } from "../test/helpers/nats.ts";
import { Progress, note, printTable } from "./output.ts";
import { distribution, median } from "./stats.ts";

const argValue = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = argValue("--runs", 3);
const COUNT = argValue("--count", 20_000);
const WINDOW = 256;
const LATENCY_RECORDS = 2000;
const SIZES = [64, 1024];

if (!haveNatsServer()) {
  console.error("bench:bridge needs nats-server on PATH (Debian/Ubuntu: apt-get install nats-server)");
  process.exit(1);
}

const root = mkdtempSync(join(tmpdir(), "chronicle-bench-bridge-"));
const servers: NatsServer[] = [];
let streamNo = 0;

async function freshStream(nc: NatsConnection, replicas: number): Promise<{ name: string; subject: string }> {
  const name = `B${++streamNo}`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`], num_replicas: replicas });
  return { name, subject: `${name.toLowerCase()}.x` };
}

async function dropStream(nc: NatsConnection, name: string): Promise<void> {
  await (await jetstreamManager(nc)).streams.delete(name);
}

/** Messages per second of a plain pipelined publisher of the bridge's messages. */
async function plain(nc: NatsConnection, subject: string, size: number): Promise<number> {
  const js = jetstream(nc);
  const payload = new Uint8Array(size).fill(1);
  const pending: Promise<PubAck>[] = [];
  const t0 = performance.now();
  for (let seq = 0; seq < COUNT; seq++) {
    const h = headers();
    h.set(HEADER.type, "1");
    h.set(HEADER.seq, String(seq));
    h.set(HEADER.timestamp, String(Date.now() * 1e6));
    h.set(HEADER.source, "plain-source-id");
    h.set(HEADER.origin, `bench:${root}`);
    pending.push(js.publish(subject, payload.slice(), { headers: h, msgID: `plain:${seq}` }));
    if (pending.length >= WINDOW) await pending.shift();
  }
  await Promise.all(pending);
  return COUNT / ((performance.now() - t0) / 1000);
}

/** Messages per second through bridgeToJetStream, from the first append to the last ack. */
async function bridged(urls: string[], stream: string, subject: string, size: number): Promise<number> {
  const dir = join(root, `q-${stream}`);
  using w = Queue.openPublisher(dir);
  const b = bridgeToJetStream({ queue: dir, readerName: "bench", servers: urls, stream, subject, window: WINDOW });
  // A warm-up record: once it is acknowledged the bridge is connected and waiting on the queue.
  w.append(1, new Uint8Array(size));
  while (b.stats.published < 1) await Bun.sleep(5);
  const start = w.nextSeq;
  const payload = new Uint8Array(size).fill(1);
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) w.append(1, payload);
  while (b.stats.published < start + COUNT) await Bun.sleep(1);
  const rate = COUNT / ((performance.now() - t0) / 1000);
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/** Latency samples (µs) of queue -> JetStream -> queue through two bridge processes. */
async function latency(urls: string[], replicas: number): Promise<Float64Array> {
  const nc = await connect({ servers: urls });
  const { name, subject } = await freshStream(nc, replicas);
  const src = join(root, `lat-src-${name}`);
  const dst = join(root, `lat-dst-${name}`);
  const w = Queue.openPublisher(src);
  const cli = join(import.meta.dir, "..", "cli", "main.ts");
  const servers = urls.join(",");
  const out = Bun.spawn(["bun", cli, "bridge", "out", src, "--servers", servers, "--stream", name, "--subject", subject], { stdout: "ignore", stderr: "inherit" });
  const inb = Bun.spawn(["bun", cli, "bridge", "in", dst, "--servers", servers, "--stream", name, "--durable", "lat"], { stdout: "ignore", stderr: "inherit" });
  // Warm-up record: both bridges running and the inbound queue created.
  w.append(1, new Uint8Array(64));
  let reader = null;
  while (reader === null) {
    try {
      reader = Queue.openSubscriber(dst, "bench", { start: "earliest", openTimeoutMs: 100 });
    } catch {
      await Bun.sleep(50);
    }
  }
  while (reader.next() === null) await reader.waitAsync({ timeoutMs: 100 });
  const clock = new WallClock();
  const samples = new Float64Array(LATENCY_RECORDS);
  const payload = new Uint8Array(64);
  let got = 0;
  const sender = (async () => {
    for (let i = 0; i < LATENCY_RECORDS; i++) {
      w.append(1, payload);
      await Bun.sleep(2);
    }
  })();
  while (got < LATENCY_RECORDS) {
    const m = reader.next();
    if (m === null) {
      await reader.waitAsync({ timeoutMs: 100, spinMicros: 0 });
      continue;
    }
    clock.read();
    samples[got++] = ((clock.hi - m.timestampHi) * 2 ** 32 + (clock.lo - m.timestampLo)) / 1000;
  }
  await sender;
  reader.close();
  out.kill("SIGTERM");
  inb.kill("SIGTERM");
  await Promise.all([out.exited, inb.exited]);
  w.close();
  await dropStream(nc, name);
  await nc.close();
  return samples;
}

try {
  note("starting a standalone server and a 3-node cluster…");
  const solo = await startServer(join(root, "solo"));
  servers.push(solo);
  const cluster = await startCluster(join(root, "cluster"));
  servers.push(...cluster);
  const targets = [
    { label: "R1", urls: [solo.url], replicas: 1 },
    { label: "R3", urls: cluster.map((n) => n.url), replicas: 3 },
  ];
  const progress = new Progress(RUNS * targets.length * SIZES.length + RUNS * targets.length);
  const rows: string[][] = [];
  for (const t of targets) {
    const nc = await connect({ servers: t.urls });
    // The cluster may still be electing its meta leader: retry the first stream.
    for (let i = 0; ; i++) {
      try {
        await dropStream(nc, (await freshStream(nc, t.replicas)).name);
        break;
      } catch (e) {
        if (i > 100) throw e;
        await Bun.sleep(200);
      }
    }
    for (const size of SIZES) {
      const ratios: number[] = [];
      const plains: number[] = [];
      const bridges: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const a = await freshStream(nc, t.replicas);
        const b = await freshStream(nc, t.replicas);
        // Alternate which goes first, so a drift in the machine's load does not favour one.
        let p: number;
        let q: number;
        if (run % 2 === 0) {
          p = await plain(nc, a.subject, size);
          q = await bridged(t.urls, b.name, b.subject, size);
        } else {
          q = await bridged(t.urls, b.name, b.subject, size);
          p = await plain(nc, a.subject, size);
        }
        await dropStream(nc, a.name);
        await dropStream(nc, b.name);
        plains.push(p);
        bridges.push(q);
        ratios.push(q / p);
        progress.step(`${t.label} ${size} B run ${run + 1}: plain ${Math.round(p)}/s, bridge ${Math.round(q)}/s`);
      }
      const fmt = (xs: number[]): string => xs.map((x) => String(Math.round(x))).join(" / ");
      rows.push([t.label, `${size} B`, fmt(plains), fmt(bridges), ratios.map((r) => r.toFixed(2)).join(" / "), median(ratios).toFixed(2)]);
    }
    await nc.close();
  }
  console.log(`\n### Outbound throughput (${COUNT.toLocaleString("en")} messages per case, window ${WINDOW}, loopback; runs separated by /)\n`);
  printTable(["stream", "payload", "plain publisher msg/s", "bridge msg/s", "bridge / plain", "median ratio"], rows);

  const latRows: string[][] = [];
  for (const t of targets) {
    const runs: ReturnType<typeof distribution>[] = [];
    for (let run = 0; run < RUNS; run++) {
      const d = distribution(await latency(t.urls, t.replicas));
      runs.push(d);
      progress.step(`${t.label} latency run ${run + 1}: p50 ${d.p50.toFixed(0)} µs, p99 ${d.p99.toFixed(0)} µs`);
    }
    const f = (k: "p50" | "p99" | "max"): string => runs.map((d) => d[k].toFixed(0)).join(" / ");
    latRows.push([t.label, f("p50"), f("p99"), f("max")]);
  }
  console.log(`\n### Latency queue → JetStream → queue (64 B, one record every 2 ms, ${LATENCY_RECORDS} per run, bridges as separate processes; µs, runs separated by /)\n`);
  printTable(["stream", "p50", "p99", "max"], latRows);
} finally {
  await stopAll(servers);
  rmSync(root, { recursive: true, force: true });
}
