/**
 * The two processes of one comparison run (started by bench/compare/main.ts, not by hand).
 *
 *   bun bench/compare/peer.ts a '<RunSpec JSON>'   measures; starts B as its child
 *   bun bench/compare/peer.ts b '<RunSpec JSON>'   sends or echoes
 *
 * A prints one `RESULT {...}` line on success. Both print `ERROR <role>: <message>` on stderr and
 * exit 1 on failure. B is controlled through its stdin: "go" starts its part, "done" lets it
 * close and exit (so it never closes a transport that still holds undelivered messages);
 * it also exits when A goes away.
 *
 * B's stderr goes to a file in the run's directory, not a pipe (A may spin without reading one,
 * and B would block on a full pipe): A counts B's collections in it (gc.ts), puts them in its
 * RESULT and passes the rest of it on to its own stderr.
 */
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { MEASURES } from "./measures.ts";
import { checkFrameSize } from "./frames.ts";
import { gcStats, withoutGcLog } from "./gc.ts";
import { transportById } from "./transports/index.ts";
import { Guard, type Endpoint, type PeerSpawnExtra, type RunSpec } from "./types.ts";

const PEER = import.meta.path;
const PEER_EXIT_TIMEOUT_MS = 10_000;
const PEER_STDERR = "b.stderr";

type Peer = Subprocess<"pipe", "pipe", number>;

/** Resolves when `stream` has printed `word` on a line; rejects when it ends first. */
async function waitForLine(stream: ReadableStream<Uint8Array>, word: string): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) {
    text += decoder.decode(chunk, { stream: true });
    if (text.split("\n").includes(word)) return;
  }
  throw new Error(`process B ended before saying "${word}"`);
}

async function tell(peer: Peer, word: string): Promise<void> {
  peer.stdin.write(`${word}\n`);
  await peer.stdin.flush();
}

/** `work`, or a rejection as soon as B exits while it is pending. */
function unlessPeerExits<T>(peer: Peer, work: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    work.then(
      (v) => {
        settled = true;
        resolve(v);
      },
      (e) => {
        settled = true;
        reject(e);
      },
    );
    void peer.exited.then((code) => {
      if (!settled) reject(new Error(`process B exited during the run (code ${code})`));
    });
  });
}

async function runA(spec: RunSpec): Promise<void> {
  const transport = transportById(spec.transport);
  const measure = MEASURES[spec.measure];
  const guard = new Guard(spec.deadline, false);
  const child: { peer: Peer | null } = { peer: null };
  let endpoint: Endpoint | null = null;
  const peerStderr = join(spec.dir, PEER_STDERR);
  let peerLog: string | null = null;
  const readPeerLog = (): string => (peerLog ??= existsSync(peerStderr) ? readFileSync(peerStderr, "utf8") : "");
  try {
    endpoint = await transport.openA(spec, (extra: PeerSpawnExtra = {}) => {
      const fd = openSync(peerStderr, "w");
      try {
        child.peer = Bun.spawn(["bun", PEER, "b", JSON.stringify(spec)], { stdin: "pipe", stdout: "pipe", stderr: fd, ...extra });
      } finally {
        closeSync(fd);
      }
      return child.peer;
    });
    const peer = child.peer as Peer | null;
    if (peer === null) throw new Error(`transport ${transport.id} did not start process B`);
    await unlessPeerExits(peer, waitForLine(peer.stdout, "ready"));
    await Bun.sleep(spec.settleMs);
    await tell(peer, "go");
    const values = await unlessPeerExits(peer, measure.a(endpoint, spec, guard));
    const counters = endpoint.counters?.();
    await tell(peer, "done");
    const timer = setTimeout(() => peer.kill("SIGKILL"), PEER_EXIT_TIMEOUT_MS);
    const code = await peer.exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`process B failed after the run (exit ${code ?? peer.signalCode})`);
    console.log(`RESULT ${JSON.stringify({ values, ...(counters ? { counters } : {}), gc: { b: gcStats(readPeerLog()) } })}`);
  } finally {
    try {
      await endpoint?.close();
    } finally {
      const peer = child.peer as Peer | null;
      if (peer !== null && peer.exitCode === null && peer.signalCode === null) {
        peer.kill("SIGKILL");
        await peer.exited;
      }
      if (peer !== null) writeSync(2, withoutGcLog(readPeerLog()));
    }
  }
}

/** Lines A writes to B's stdin. End of input before "done" means A is gone: B exits. */
class Control {
  private readonly seen = new Set<string>();
  private waiter: { word: string; resolve: () => void } | null = null;

  constructor() {
    void this.read();
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of Bun.stdin.stream()) {
      text += decoder.decode(chunk, { stream: true });
      const lines = text.split("\n");
      text = lines.pop()!;
      for (const line of lines) {
        this.seen.add(line);
        if (this.waiter?.word === line) this.waiter.resolve();
      }
    }
    if (!this.seen.has("done")) {
      console.error("ERROR b: process A went away");
      process.exit(2);
    }
  }

  expect(word: string): Promise<void> {
    if (this.seen.has(word)) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiter = { word, resolve };
    return promise;
  }
}

async function runB(spec: RunSpec): Promise<void> {
  const control = new Control();
  const endpoint = await transportById(spec.transport).openB(spec);
  try {
    console.log("ready");
    await control.expect("go");
    await MEASURES[spec.measure].b(endpoint, spec, new Guard(spec.deadline, true));
    await control.expect("done");
  } finally {
    await endpoint.close();
  }
}

const [role, json] = process.argv.slice(2);
try {
  if ((role !== "a" && role !== "b") || json === undefined) throw new Error("usage: peer.ts a|b <RunSpec JSON>");
  const spec = JSON.parse(json) as RunSpec;
  checkFrameSize(spec.size);
  await (role === "a" ? runA(spec) : runB(spec));
  process.exit(0);
} catch (e) {
  console.error(`ERROR ${role}: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
