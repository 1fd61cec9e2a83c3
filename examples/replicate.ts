/**
 * Two "hosts" on one machine, replicated through a local 3-node JetStream cluster: the feed writes
 * ticks into host A's bus root; `chronicle bridge out` publishes its queue to an R3 stream;
 * `chronicle bridge in` appends the stream to the same queue under host B's bus root; a strategy
 * on B reads the ticks there at local speed and checks that none is missing or repeated.
 *
 *   bun run examples/replicate.ts [--duration ms] [--rate ticksPerSecond]
 *
 * Needs nats-server on PATH (prints how to install it otherwise). Everything lives in a temp
 * directory removed at the end. On real hosts each piece runs where its queue is: see
 * docs/DISTRIBUTED.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { BusLayout, Queue, isQueueDirectory } from "../src/index.ts";
import { flag, percentile, Tick, wallClockMs } from "./codec.ts";

if (Bun.which("nats-server") === null) {
  console.error("examples/replicate.ts needs nats-server on PATH: on Debian/Ubuntu `apt-get install nats-server`,\n" +
    "on macOS `brew install nats-server`, elsewhere a release binary from the NATS project's GitHub releases.");
  process.exit(1);
}

const args = process.argv.slice(2);
const duration = flag(args, "duration", 3000);
const rate = flag(args, "rate", 1000);
const here = import.meta.dir;
const cli = join(here, "..", "cli", "main.ts");
const work = mkdtempSync(join(tmpdir(), "chronicle-replicate-"));
const hostA = new BusLayout(join(work, "hostA"));
const hostB = new BusLayout(join(work, "hostB"));
const children: ReturnType<typeof Bun.spawn>[] = [];

function port(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p = s.port;
  s.stop(true);
  return p;
}

/** One config file per node, as it would be on three machines (with their addresses instead of 127.0.0.1). */
function startNode(name: string, clientPort: number, routePort: number, allRoutes: number[]): void {
  const dir = join(work, "nats", name);
  mkdirSync(dir, { recursive: true });
  const routes = allRoutes.filter((p) => p !== routePort).map((p) => `nats://127.0.0.1:${p}`);
  writeFileSync(join(dir, "server.conf"), [
    `server_name: ${name}`,
    `listen: 127.0.0.1:${clientPort}`,
    `jetstream { store_dir: "${join(dir, "store")}" }`,
    `cluster { name: replicate, listen: 127.0.0.1:${routePort}, routes: [${routes.join(", ")}] }`,
  ].join("\n"));
  children.push(Bun.spawn(["nats-server", "-c", join(dir, "server.conf")], { stdout: "ignore", stderr: "ignore" }));
}

try {
  const clientPorts = [port(), port(), port()];
  const routePorts = [port(), port(), port()];
  clientPorts.forEach((p, i) => startNode(`n${i + 1}`, p, routePorts[i]!, routePorts));
  const servers = clientPorts.map((p) => `nats://127.0.0.1:${p}`);
  console.log(`3-node JetStream cluster on ${servers.join(", ")}`);

  // The stream: three replicas, created once the cluster has elected its meta leader.
  const nc = await connect({ servers, maxReconnectAttempts: -1, waitOnFirstConnect: true });
  for (let attempt = 0; ; attempt++) {
    try {
      await (await jetstreamManager(nc)).streams.add({ name: "MARKET", subjects: ["market.>"], num_replicas: 3 });
      break;
    } catch (e) {
      if (attempt > 100) throw e;
      await Bun.sleep(200);
    }
  }
  await nc.close();
  console.log("stream MARKET (subjects market.>, 3 replicas) created");

  // Host A's feed queue (created as the feed would), its outbound bridge, and host B's inbound bridge.
  Queue.openPublisher(hostA.feed(), { segmentSize: 1 << 20 }).close();
  const bridge = (dir: "out" | "in", queue: string, extra: string[]): void => {
    children.push(Bun.spawn(["bun", cli, "bridge", dir, queue, "--servers", servers.join(","), "--stream", "MARKET", ...extra], { stdout: "ignore", stderr: "inherit" }));
  };
  bridge("out", hostA.feed(), ["--subject", "market.main"]);
  bridge("in", hostB.feed(), ["--durable", "hostB-main"]);
  console.log(`host A: feed -> ${hostA.feed()} -> bridge out -> MARKET -> bridge in -> host B: ${hostB.feed()}`);
  while (!isQueueDirectory(hostB.feed())) await Bun.sleep(20);
  const feed = Bun.spawn(["bun", join(here, "feed.ts"), hostA.root, "--rate", String(rate), "--duration", String(duration)], { stdout: "pipe", stderr: "inherit" });
  children.push(feed);

  // Host B: a strategy reading the replicated ticks.
  using reader = Queue.openSubscriber(hostB.feed(), "strategy", { start: "earliest" });
  const tick = Tick.view();
  const feedSummary = new Response(feed.stdout).text().then((t) => JSON.parse(t.trim().split("\n").pop()!) as { ticks: number });
  let published = Infinity;
  void feedSummary.then((s) => (published = s.ticks));
  const latencies: number[] = [];
  let next = 0;
  let outOfOrder = 0;
  const deadline = Date.now() + duration + 30_000;
  while (next < published && Date.now() < deadline) {
    const m = reader.next();
    if (m === null) {
      await reader.waitAsync({ timeoutMs: 100 });
      continue;
    }
    if (!tick.wrap(m)) continue;
    if (tick.seq !== next) outOfOrder++;
    next = tick.seq + 1;
    latencies.push(wallClockMs() - tick.sentMs);
  }
  reader.commit();
  latencies.sort((a, b) => a - b);
  const ok = next === published && outOfOrder === 0;
  console.log(JSON.stringify({
    publishedOnA: published,
    readOnB: latencies.length,
    missingOrRepeated: outOfOrder,
    // The first ticks wait for the bridges to connect: p99 includes that start-up.
    feedToStrategyMs: { p50: Math.round(percentile(latencies, 50) * 10) / 10, p99: Math.round(percentile(latencies, 99) * 10) / 10 },
  }));
  console.log(ok ? "every tick arrived on host B once, in order" : "ticks were missing, repeated or late");
  process.exitCode = ok ? 0 : 1;
} finally {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => c.exited));
  rmSync(work, { recursive: true, force: true });
}
