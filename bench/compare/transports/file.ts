/**
 * An append-only file per direction: the writer appends each frame with one write(2); the reader
 * follows the file with fs.watch (inotify) and reads the new bytes on every change event.
 *
 * Bun's fs.watch drops change events when writes come in bursts (oven-sh/bun#7919; seen here
 * with fast appends) and in a ping-pong between two processes (seen here with Bun 1.4.5: a pure
 * fs.watch ping-pong stalls within a few round trips), after which a pure event-driven follower
 * would wait forever. So the
 * follower also re-reads when it has heard nothing for STALL_MS, and counts how often that
 * found data ("missed wake-ups").
 */
import { closeSync, openSync, readSync, watch, writeFileSync, writeSync, type FSWatcher } from "node:fs";
import { join } from "node:path";
import { FrameSplitter } from "../frames.ts";
import { aSends, type Endpoint, type FrameHandler, type Guard, type RunSpec, type Transport } from "../types.ts";
import { Inbox } from "./inbox.ts";

const READ_CHUNK = 256 * 1024;
export const STALL_MS = 5;

class Follower {
  readonly inbox = new Inbox();
  private readonly fd: number;
  private readonly watcher: FSWatcher;
  private readonly timer: Timer;
  private readonly splitter: FrameSplitter;
  private readonly buf = new Uint8Array(READ_CHUNK);
  private position = 0;
  private lastEvent = Date.now();
  missedWakeups = 0;

  constructor(path: string, size: number) {
    this.splitter = new FrameSplitter(size, (bytes, at, length) => this.inbox.deliver(bytes, at, length));
    this.fd = openSync(path, "r");
    this.watcher = watch(path, () => {
      this.lastEvent = Date.now();
      this.drain();
    });
    this.timer = setInterval(() => {
      if (Date.now() - this.lastEvent < STALL_MS) return;
      this.lastEvent = Date.now();
      if (this.drain()) this.missedWakeups++;
    }, STALL_MS / 2);
  }

  /** Reads to the end of the file; true when there were new bytes. */
  private drain(): boolean {
    let any = false;
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.position);
      if (n <= 0) return any;
      any = true;
      this.position += n;
      this.splitter.push(this.buf, n);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.watcher.close();
    closeSync(this.fd);
  }
}

class FileEndpoint implements Endpoint {
  constructor(
    private readonly out: number | null,
    private readonly follower: Follower | null,
  ) {}

  send(frame: Uint8Array): void {
    if (writeSync(this.out!, frame) !== frame.length) throw new Error("short write to the log file");
  }

  receive(onFrame: FrameHandler, guard: Guard): Promise<void> {
    return this.follower!.inbox.receive(onFrame, guard);
  }

  close(): void {
    this.follower?.close();
    if (this.out !== null) closeSync(this.out);
  }

  counters(): Record<string, number> {
    return { missedWakeups: this.follower?.missedWakeups ?? 0 };
  }
}

export const file: Transport = {
  id: "file",
  label: "append-only file + fs.watch",
  short: "file + fs.watch",
  guarantees:
    "Persisted in the page cache: survives a process crash (power loss only with fsync). Replay by byte offset; any number of readers. " +
    `Woken by inotify through fs.watch, which loses events under bursts and in ping-pong: the reader also re-reads after ${STALL_MS} ms of silence.`,
  settings: "file: one write(2) per message",
  async openA(spec: RunSpec, spawnPeer) {
    const a2b = join(spec.dir, "a2b.log");
    const b2a = join(spec.dir, "b2a.log");
    writeFileSync(b2a, "");
    if (aSends(spec)) writeFileSync(a2b, "");
    const endpoint = new FileEndpoint(aSends(spec) ? openSync(a2b, "a") : null, new Follower(b2a, spec.size));
    spawnPeer();
    return endpoint;
  },
  async openB(spec: RunSpec) {
    const follower = aSends(spec) ? new Follower(join(spec.dir, "a2b.log"), spec.size) : null;
    return new FileEndpoint(openSync(join(spec.dir, "b2a.log"), "a"), follower);
  },
};
