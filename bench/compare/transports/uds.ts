/** The baseline: a Unix domain stream socket (Bun.listen / Bun.connect), fixed-size frames. */
import { join } from "node:path";
import type { Socket } from "bun";
import { FrameSplitter } from "../frames.ts";
import type { Endpoint, FrameHandler, Guard, RunSpec, Transport } from "../types.ts";
import { Inbox } from "./inbox.ts";

const CONNECT_TIMEOUT_MS = 10_000;

/** Bun sockets do not buffer: a write may take fewer bytes than given; the rest waits for `drain`. */
class SocketEndpoint implements Endpoint {
  socket: Socket<undefined> | null = null;
  readonly inbox = new Inbox();
  private readonly splitter: FrameSplitter;
  private readonly pending: Uint8Array[] = [];
  private drained: PromiseWithResolvers<void> | null = null;

  /** Runs after the socket is ended (A stops its server). */
  onClose: () => void = () => {};

  constructor(size: number) {
    this.splitter = new FrameSplitter(size, (bytes, at, length) => this.inbox.deliver(bytes, at, length));
  }

  /** Socket handlers shared by both ends. */
  readonly handlers = {
    data: (_s: Socket<undefined>, chunk: Uint8Array) => this.splitter.push(chunk),
    drain: () => this.flush(),
    close: () => this.inbox.fail(new Error("the peer closed the socket")),
    error: (_s: Socket<undefined>, e: Error) => this.inbox.fail(e),
  };

  send(frame: Uint8Array): void | Promise<void> {
    if (this.pending.length === 0) {
      const n = this.socket!.write(frame);
      if (n === frame.length) return;
      this.pending.push(frame.slice(Math.max(0, n)));
    } else {
      this.pending.push(frame.slice());
    }
    this.drained ??= Promise.withResolvers<void>();
    return this.drained.promise;
  }

  private flush(): void {
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      const n = this.socket!.write(head);
      if (n < head.length) {
        this.pending[0] = head.subarray(Math.max(0, n));
        return;
      }
      this.pending.shift();
    }
    this.drained?.resolve();
    this.drained = null;
  }

  receive(onFrame: FrameHandler, guard: Guard): Promise<void> {
    return this.inbox.receive(onFrame, guard);
  }

  close(): void {
    this.socket?.end();
    this.onClose();
  }
}

export const uds: Transport = {
  id: "uds",
  label: "Unix domain socket",
  short: "Unix socket",
  guarantees:
    "Kernel socket buffer only: nothing persisted, no replay, one reader per connection. " +
    "Backpressure when the buffer is full; the application frames the byte stream.",
  settings: "Unix socket: Bun.listen / Bun.connect, frames cut from the byte stream",
  async openA(spec: RunSpec, spawnPeer) {
    const path = join(spec.dir, "uds.sock");
    const connected = Promise.withResolvers<void>();
    const endpoint = new SocketEndpoint(spec.size);
    const server = Bun.listen<undefined>({
      unix: path,
      socket: {
        ...endpoint.handlers,
        open: (s) => {
          endpoint.socket = s;
          connected.resolve();
        },
      },
    });
    endpoint.onClose = () => server.stop(true);
    spawnPeer();
    const timer = setTimeout(() => connected.reject(new Error("process B did not connect")), CONNECT_TIMEOUT_MS);
    try {
      await connected.promise;
    } catch (e) {
      server.stop(true);
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return endpoint;
  },
  async openB(spec: RunSpec) {
    const endpoint = new SocketEndpoint(spec.size);
    endpoint.socket = await Bun.connect<undefined>({ unix: join(spec.dir, "uds.sock"), socket: endpoint.handlers });
    return endpoint;
  },
};
