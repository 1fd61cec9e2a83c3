/**
 * Cross-process latency: chronicle's wait strategies against a Unix domain socket and Bun IPC.
 *
 *   bun run bench:latency [--quick]
 *
 * 1. Ping-pong: this process sends a 64-byte message, the peer process echoes it, back to back;
 *    round-trip time per message (100,000 round trips per transport, 10,000 with --quick, after
 *    2,000 warm-up rounds). Chronicle uses two queues (ping, pong).
 * 2. One-way wake: the peer sends a 64-byte message about every millisecond, stamped with
 *    CLOCK_MONOTONIC; this process, asleep in between, records arrival minus stamp (5,000
 *    messages, 1,000 with --quick). This is the cost of waking a sleeping reader.
 * Ratios are against the Unix socket measured in the same run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { monotonicNs } from "../src/ffi/index.ts";
import { Queue } from "../src/index.ts";
import { pct, printTable } from "./table.ts";

const quick = process.argv.includes("--quick");
const ROUNDS = quick ? 10_000 : 100_000;
const WARMUP = 2_000;
const ONE_WAY = quick ? 1_000 : 5_000;
const PAYLOAD = 64;
const PEER = join(import.meta.dir, "latency-peer.ts");
const root = mkdtempSync(join(tmpdir(), "chronicle-bench-latency-"));
let dirs = 0;

type Transport = "spin" | "hybrid" | "async" | "uds" | "ipc";
type Role = "echo" | "send";

interface Peer {
  proc: Subprocess;
  ready: Promise<void>;
}

/** Starts the peer; `ready` resolves when it says so (a stdout line, or an IPC message). */
function startPeer(role: Role, transport: Transport, count: number, args: string[], onIpc?: (m: unknown) => void): Peer {
  const { promise: ready, resolve } = Promise.withResolvers<void>();
  const proc = Bun.spawn(["bun", PEER, role, transport, String(count), ...args], {
    stdout: "pipe",
    stderr: "inherit",
    ...(transport === "ipc"
      ? { serialization: "advanced" as const, ipc: (m: unknown) => (m === "ready" ? resolve() : onIpc!(m)) }
      : {}),
  });
  if (transport !== "ipc") {
    void (async () => {
      for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
        if (new TextDecoder().decode(chunk).includes("ready")) return resolve();
      }
    })();
  }
  return { proc, ready };
}

const sendBuffer = new Uint8Array(PAYLOAD);

/** Round trips against the peer: `roundTrip` sends one message and resolves when its echo arrived. */
async function measureRoundTrips(roundTrip: () => void | Promise<void>): Promise<Float64Array> {
  const samples = new Float64Array(ROUNDS);
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const t0 = Bun.nanoseconds();
    await roundTrip();
    if (i >= WARMUP) samples[i - WARMUP] = Bun.nanoseconds() - t0;
  }
  return samples;
}

async function chroniclePingPong(transport: "spin" | "hybrid" | "async"): Promise<Float64Array> {
  const ping = join(root, `ping${dirs}`);
  const pong = join(root, `pong${dirs++}`);
  using writer = Queue.openPublisher(ping);
  const peer = startPeer("echo", transport, WARMUP + ROUNDS, [ping, pong]);
  await peer.ready;
  using reader = Queue.openSubscriber(pong, "main", { start: "latest", wait: { strategy: transport === "spin" ? "spin" : "hybrid" } });
  const samples = await measureRoundTrips(
    transport === "async"
      ? async () => {
          writer.append(1, sendBuffer);
          while (reader.next() === null) await reader.waitAsync({ timeoutMs: 10_000 });
        }
      : () => {
          writer.append(1, sendBuffer);
          while (reader.next() === null) reader.wait(10_000);
        },
  );
  await peer.proc.exited;
  return samples;
}

/** A Unix socket server for one peer; `onData` sees every chunk the peer sends. */
async function udsServer(onData: (data: Uint8Array) => void) {
  const path = join(root, `s${dirs++}.sock`);
  const { promise: connected, resolve } = Promise.withResolvers<{ write(d: Uint8Array): number }>();
  const server = Bun.listen({ unix: path, socket: { open: (s) => resolve(s), data: (_s, d) => onData(d) } });
  return { path, connected, server };
}

async function udsPingPong(): Promise<Float64Array> {
  let pending = 0;
  let wake: () => void = () => {};
  const { path, connected, server } = await udsServer((d) => {
    pending -= d.length;
    if (pending <= 0) wake();
  });
  const peer = startPeer("echo", "uds", WARMUP + ROUNDS, [path]);
  const socket = await connected;
  await peer.ready;
  const samples = await measureRoundTrips(() => {
    const { promise, resolve } = Promise.withResolvers<void>();
    wake = resolve;
    pending = PAYLOAD;
    socket.write(sendBuffer);
    return promise;
  });
  await peer.proc.exited;
  server.stop(true);
  return samples;
}

async function ipcPingPong(): Promise<Float64Array> {
  let wake: () => void = () => {};
  const peer = startPeer("echo", "ipc", WARMUP + ROUNDS, [], () => wake());
  await peer.ready;
  const samples = await measureRoundTrips(() => {
    const { promise, resolve } = Promise.withResolvers<void>();
    wake = resolve;
    peer.proc.send(sendBuffer);
    return promise;
  });
  await peer.proc.exited;
  return samples;
}

/** Collects one-way latencies from stamped 64-byte frames. */
class OneWay {
  readonly samples = new Float64Array(ONE_WAY);
  count = 0;
  readonly done = Promise.withResolvers<void>();

  frames(bytes: Uint8Array): void {
    const now = monotonicNs();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let o = 0; o + PAYLOAD <= bytes.byteLength && this.count < ONE_WAY; o += PAYLOAD) {
      this.samples[this.count++] = now - view.getFloat64(o, true);
    }
    if (this.count >= ONE_WAY) this.done.resolve();
  }
}

async function chronicleOneWay(transport: "spin" | "hybrid" | "async"): Promise<Float64Array> {
  const dir = join(root, `oneway${dirs++}`);
  Queue.openPublisher(dir).close();
  using reader = Queue.openSubscriber(dir, "main", { start: "latest", wait: { strategy: transport === "spin" ? "spin" : "hybrid" } });
  const peer = startPeer("send", transport, ONE_WAY, ["-", dir]);
  await peer.ready;
  const sink = new OneWay();
  while (sink.count < ONE_WAY) {
    const m = reader.next();
    if (m !== null) sink.frames(m.payload);
    else if (transport === "async") await reader.waitAsync({ timeoutMs: 10_000 });
    else reader.wait(10_000);
  }
  await peer.proc.exited;
  return sink.samples;
}

async function udsOneWay(): Promise<Float64Array> {
  const sink = new OneWay();
  const { path, server } = await udsServer((d) => sink.frames(d));
  const peer = startPeer("send", "uds", ONE_WAY, [path]);
  await sink.done.promise;
  await peer.proc.exited;
  server.stop(true);
  return sink.samples;
}

async function ipcOneWay(): Promise<Float64Array> {
  const sink = new OneWay();
  const peer = startPeer("send", "ipc", ONE_WAY, [], (m) => sink.frames(m as Uint8Array));
  await sink.done.promise;
  await peer.proc.exited;
  return sink.samples;
}

const LABELS: Record<Transport, string> = {
  spin: "chronicle, busy-spin",
  hybrid: "chronicle, hybrid (spin then futex)",
  async: "chronicle, waitAsync",
  uds: "Unix domain socket (Bun.listen/connect)",
  ipc: "Bun.spawn IPC",
};

function rows(results: [Transport, Float64Array][]): string[][] {
  const base = pct(results.find(([t]) => t === "uds")![1].sort(), 0.5);
  return results.map(([t, s]) => {
    s.sort();
    const us = (p: number): string => (pct(s, p) / 1000).toFixed(2);
    return [LABELS[t], String(s.length), us(0.5), us(0.9), us(0.99), us(0.999), (s[s.length - 1] / 1000).toFixed(1), `${(pct(s, 0.5) / base).toFixed(3)}x`];
  });
}

const HEADER = ["transport", "messages", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "p50 vs UDS"];

try {
  console.log(`# Cross-process latency, ${PAYLOAD}-byte payloads (Bun ${Bun.version}, ${navigator.hardwareConcurrency} CPUs)\n`);
  console.log(`## Ping-pong round trip (${ROUNDS} round trips after ${WARMUP} warm-up)\n`);
  const pingPong: [Transport, Float64Array][] = [];
  for (const t of ["spin", "hybrid", "async"] as const) pingPong.push([t, await chroniclePingPong(t)]);
  pingPong.push(["uds", await udsPingPong()]);
  pingPong.push(["ipc", await ipcPingPong()]);
  printTable(HEADER, rows(pingPong));

  console.log(`\n## One-way wake of a sleeping receiver (${ONE_WAY} messages, about 1 ms apart)\n`);
  const oneWay: [Transport, Float64Array][] = [];
  for (const t of ["spin", "hybrid", "async"] as const) oneWay.push([t, await chronicleOneWay(t)]);
  oneWay.push(["uds", await udsOneWay()]);
  oneWay.push(["ipc", await ipcOneWay()]);
  printTable(HEADER, rows(oneWay));
} finally {
  rmSync(root, { recursive: true, force: true });
}
