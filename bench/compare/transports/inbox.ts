/** Receiving side of the event-driven transports: frames arrive in callbacks, receive() awaits them. */
import type { FrameHandler, Guard } from "../types.ts";

const GUARD_INTERVAL_MS = 100;

export class Inbox {
  private handler: FrameHandler | null = null;
  private finished: PromiseWithResolvers<void> | null = null;
  /** Frames that arrived while nobody was receiving (copied: the callback's buffer is reused). */
  private backlog: Uint8Array[] = [];
  private failure: Error | null = null;

  /** Hands one frame (`length` bytes of `bytes` from `at`) to the receiver; called from the transport's callbacks. */
  deliver(bytes: Uint8Array, at: number, length: number): void {
    const handler = this.handler;
    if (handler === null) {
      this.backlog.push(bytes.slice(at, at + length));
      return;
    }
    try {
      if (handler(bytes, at, length)) this.settle(null);
    } catch (e) {
      this.settle(e as Error);
    }
  }

  /** The transport failed (peer closed, protocol error): the pending receive rejects. */
  fail(error: Error): void {
    if (this.finished !== null) this.settle(error);
    else this.failure ??= error;
  }

  receive(onFrame: FrameHandler, guard: Guard): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const backlog = this.backlog;
    this.backlog = [];
    for (let i = 0; i < backlog.length; i++) {
      if (onFrame(backlog[i]!, 0, backlog[i]!.length)) {
        this.backlog = backlog.slice(i + 1);
        return Promise.resolve();
      }
    }
    this.finished = Promise.withResolvers<void>();
    this.handler = onFrame;
    const timer = setInterval(() => {
      try {
        guard.check();
      } catch (e) {
        this.settle(e as Error);
      }
    }, GUARD_INTERVAL_MS);
    return this.finished.promise.finally(() => clearInterval(timer));
  }

  private settle(error: Error | null): void {
    const finished = this.finished;
    this.handler = null;
    this.finished = null;
    if (finished === null) return;
    if (error === null) finished.resolve();
    else finished.reject(error);
  }
}
