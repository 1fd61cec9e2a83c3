/**
 * Redis Streams through Bun's built-in client: XADD to send, XREAD BLOCK to receive, one stream
 * per direction. The bench starts its own redis-server (no persistence) on a Unix socket.
 *
 * Bun's client sends binary arguments but returns bulk strings UTF-8 decoded, so frames travel as
 * strings; ours are 7-bit (see frames.ts), which makes that lossless.
 */
import { RedisClient, type Subprocess } from "bun";
import { basename, join } from "node:path";
import { type Endpoint, type FrameHandler, type Guard, type RunSpec, type Service, type Transport } from "../types.ts";

const BLOCK_MS = 100;
const BATCH = 1024;
/** A sender waits for the reply to every PIPELINE-th XADD: Bun pipelines the others. */
const PIPELINE = 1024;
const START_TIMEOUT_MS = 10_000;

class RedisEndpoint implements Endpoint {
  private sent = 0;
  private failure: Error | null = null;
  private last = "0-0";

  constructor(
    private readonly pub: RedisClient,
    private readonly sub: RedisClient,
    private readonly outKey: string,
    private readonly inKey: string,
    private readonly owner: boolean,
  ) {}

  send(frame: Uint8Array): void | Promise<void> {
    if (this.failure !== null) throw this.failure;
    const reply = this.pub.send("XADD", [this.outKey, "*", "d", Buffer.from(frame.buffer, frame.byteOffset, frame.length).toString("latin1")]);
    const done = reply.then(
      () => {},
      (e: Error) => {
        this.failure ??= e;
      },
    );
    if (++this.sent % PIPELINE === 0) return done;
  }

  async receive(onFrame: FrameHandler, guard: Guard): Promise<void> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      const reply = await this.sub.send("XREAD", ["COUNT", String(BATCH), "BLOCK", String(BLOCK_MS), "STREAMS", this.inKey, this.last]);
      if (reply === null) {
        guard.check();
        continue;
      }
      // RESP3 (Bun's default) gives a map keyed by stream; RESP2 a list of [stream, entries].
      const entries: [string, string[]][] = Array.isArray(reply) ? reply[0][1] : reply[this.inKey];
      for (const [id, fields] of entries) {
        this.last = id;
        const frame = Buffer.from(fields[1]!, "latin1");
        if (onFrame(frame, 0, frame.length)) return;
      }
    }
  }

  async close(): Promise<void> {
    try {
      if (this.owner) await this.pub.send("DEL", [this.outKey, this.inKey]);
    } finally {
      this.pub.close();
      this.sub.close();
    }
  }
}

/** Two connections: XREAD BLOCK holds its connection, so sending needs another. */
async function open(spec: RunSpec, out: string, inbound: string, owner: boolean): Promise<RedisEndpoint> {
  const url = spec.service.url;
  if (url === undefined) throw new Error("no Redis server was started");
  const pub = new RedisClient(url);
  const sub = new RedisClient(url);
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (e) {
    pub.close();
    sub.close();
    throw e;
  }
  return new RedisEndpoint(pub, sub, out, inbound, owner);
}

function keys(spec: RunSpec): { a2b: string; b2a: string } {
  const run = basename(spec.dir);
  return { a2b: `${run}:a2b`, b2a: `${run}:b2a` };
}

async function startServer(root: string): Promise<Service> {
  const socket = join(root, "redis.sock");
  const proc: Subprocess = Bun.spawn(
    ["redis-server", "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", root, "--logfile", join(root, "redis.log")],
    { stdin: "ignore", stdout: "ignore", stderr: "inherit" },
  );
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
    await proc.exited;
    clearTimeout(timer);
  };
  const url = `redis+unix://${socket}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const probe = new RedisClient(url, { autoReconnect: false });
    try {
      await probe.connect();
      await probe.send("PING", []);
      return { info: { url }, stop };
    } catch (e) {
      if (proc.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server did not start: ${(e as Error).message} (log: ${join(root, "redis.log")})`);
      }
      await Bun.sleep(50);
    } finally {
      probe.close();
    }
  }
}

export const redis: Transport = {
  id: "redis",
  label: "Redis Streams (Bun RedisClient)",
  short: "Redis Streams",
  guarantees:
    "Held in the Redis server's memory (persistence off here; RDB/AOF can add it). Replay by entry id; any number of readers, " +
    "consumer groups with acknowledgements. Every message crosses two sockets through the server process.",
  settings: "Redis: its own redis-server on a Unix socket, persistence off",
  unavailable() {
    return Bun.which("redis-server") === null ? "redis-server is not installed (Debian: apt-get install redis-server)" : null;
  },
  startService: startServer,
  async openA(spec: RunSpec, spawnPeer) {
    const { a2b, b2a } = keys(spec);
    const endpoint = await open(spec, a2b, b2a, true);
    spawnPeer();
    return endpoint;
  },
  async openB(spec: RunSpec) {
    const { a2b, b2a } = keys(spec);
    return open(spec, b2a, a2b, false);
  },
};
