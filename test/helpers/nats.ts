/**
 * nats-server processes for tests: free loopback ports, a config file and a store directory per
 * server, start / kill -9 / restart by pid, and 3-node JetStream clusters.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

/** True when the nats-server binary is on PATH. */
export function haveNatsServer(): boolean {
  return Bun.which("nats-server") !== null;
}

/** A loopback TCP port nobody listens on right now. */
export function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export interface NatsServerOptions {
  /** Directory for the config file and the JetStream store (kept across restarts). */
  dir: string;
  name: string;
  /** Cluster route ports of every node (this one included), when clustered. */
  cluster?: { port: number; routes: number[] };
  /** Server max_payload in bytes (default the server's, 1 MiB). */
  maxPayload?: number;
}

/** One nats-server process; `restart()` starts it again on the same ports and store. */
export class NatsServer {
  readonly port = freePort();
  readonly monitorPort = freePort();
  readonly url: string;
  private proc: Subprocess | null = null;
  private readonly config: string;

  constructor(readonly options: NatsServerOptions) {
    this.url = `nats://127.0.0.1:${this.port}`;
    mkdirSync(options.dir, { recursive: true });
    this.config = join(options.dir, "server.conf");
    const lines = [
      `server_name: ${options.name}`,
      `listen: 127.0.0.1:${this.port}`,
      `http: 127.0.0.1:${this.monitorPort}`,
      `jetstream { store_dir: "${join(options.dir, "store")}" }`,
    ];
    if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
    const c = options.cluster;
    if (c !== undefined) {
      const routes = c.routes.filter((p) => p !== c.port).map((p) => `nats://127.0.0.1:${p}`);
      lines.push(`cluster { name: test, listen: 127.0.0.1:${c.port}, routes: [${routes.join(", ")}] }`);
    }
    writeFileSync(this.config, lines.join("\n") + "\n");
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts the process (returns at once; see {@link ready}). */
  start(): this {
    if (!haveNatsServer()) throw new Error("nats-server is not on PATH (Debian: apt-get install nats-server; .ci/run installs it)");
    this.proc = Bun.spawn(["nats-server", "-c", this.config], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    return this;
  }

  /** Waits until the server reports itself healthy (JetStream included), up to `timeoutMs`. */
  async ready(timeoutMs = 20_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`nats-server ${this.options.name} exited (${this.proc?.exitCode ?? this.proc?.signalCode})`);
      try {
        const r = await fetch(`http://127.0.0.1:${this.monitorPort}/healthz`);
        if (r.ok) return this;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) throw new Error(`nats-server ${this.options.name} not healthy after ${timeoutMs} ms`);
      await Bun.sleep(50);
    }
  }

  /** Sends `signal` by pid without waiting (SIGSTOP / SIGCONT freeze and thaw the server). */
  signal(signal: NodeJS.Signals): void {
    if (this.proc !== null && this.running) process.kill(this.proc.pid, signal);
  }

  /** Sends `signal` (default SIGKILL) by pid and waits for the process to go. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const p = this.proc;
    if (p === null || !this.running) return;
    process.kill(p.pid, signal);
    await p.exited;
  }
}

/** A standalone JetStream server in `dir`, started and healthy. */
export async function startServer(dir: string, extra: Partial<NatsServerOptions> = {}): Promise<NatsServer> {
  return new NatsServer({ dir, name: "solo", ...extra }).start().ready();
}

/** Three clustered JetStream servers in `dir`/n1..n3, started and healthy. */
export async function startCluster(dir: string): Promise<NatsServer[]> {
  const routes = [freePort(), freePort(), freePort()];
  const nodes = routes.map((port, i) => new NatsServer({ dir: join(dir, `n${i + 1}`), name: `n${i + 1}`, cluster: { port, routes } }));
  for (const n of nodes) n.start();
  await Promise.all(nodes.map((n) => n.ready(30_000)));
  return nodes;
}

/** Kills every server still running (for afterAll / finally). */
export async function stopAll(servers: NatsServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.kill()));
}
