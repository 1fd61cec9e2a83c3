/**
 * Router-side glue: discovery drives a FanInReader. A strategy that becomes READY is attached
 * (a subscriber on its orders_out under the router's reader name); one that goes away is
 * detached and its reader closed. Replies go to each strategy's orders_in, which the router
 * publishes.
 */
import { ChronicleError, ClosedError, NotAttached } from "../errors.ts";
import { FanInReader } from "../queue/fanIn.ts";
import type { MessageView } from "../queue/messageView.ts";
import { Queue } from "../queue/queue.ts";
import { checkTimeout } from "../queue/wait.ts";
import { validateComponent } from "../queue/names.ts";
import { MAX_READER_NAME_BYTES } from "../queue/layout/index.ts";
import type { SubscriberOptions } from "../queue/reader.ts";
import type { PublisherOptions, QueueWriter } from "../queue/writer.ts";
import { RouterDiscovery, type DiscoveryEvent, type DiscoveryOptions } from "./discovery.ts";
import type { BusLayout } from "./layout.ts";

export interface RoutedMessage {
  strategy: string;
  sourceId: number;
  message: MessageView;
}

export interface StrategyRouterOptions {
  discovery?: DiscoveryOptions;
  /** Options for the subscribers on each orders_out (default: resume). */
  subscriber?: SubscriberOptions;
  /** Options for the publishers of each orders_in. */
  publisher?: PublisherOptions;
}

interface Attached {
  sourceId: number;
  ordersIn: string;
  replies: QueueWriter | null;
}

export class StrategyRouter implements Disposable {
  readonly discovery: RouterDiscovery;
  readonly fanIn = new FanInReader();
  readonly readerName: string;
  private readonly opts: StrategyRouterOptions;
  private readonly byStrategy = new Map<string, Attached>();
  private readonly bySource = new Map<number, string>();
  private readonly out: RoutedMessage = { strategy: "", sourceId: -1, message: null as unknown as MessageView };
  private closed = false;

  constructor(root: string | BusLayout, readerName: string, opts: StrategyRouterOptions = {}) {
    // Checked now, not at the first attach, where every strategy would fail with it.
    validateComponent(readerName, "reader name", typeof root === "string" ? root : root.root, MAX_READER_NAME_BYTES);
    this.discovery = new RouterDiscovery(root, opts.discovery);
    this.readerName = readerName;
    this.opts = opts;
  }

  /** Strategies attached now, sorted. */
  get strategies(): string[] {
    return [...this.byStrategy.keys()].sort();
  }

  /** Applies discovery changes (attach/detach) and returns them. Never blocks. */
  sync(): DiscoveryEvent[] {
    this.checkOpen();
    const events = this.discovery.poll();
    const applied: DiscoveryEvent[] = [];
    for (const ev of events) {
      if (ev.kind === "added") {
        try {
          const reader = Queue.openSubscriber(ev.ordersOut, this.readerName, { openTimeoutMs: 200, ...this.opts.subscriber });
          const sourceId = this.fanIn.addReader(reader);
          this.byStrategy.set(ev.strategy, { sourceId, ordersIn: ev.ordersIn, replies: null });
          this.bySource.set(sourceId, ev.strategy);
        } catch (e) {
          if (!(e instanceof ChronicleError)) throw e;
          // Not attachable right now (being created or deleted): try again at the next scan.
          this.discovery.forget(ev.strategy);
          continue;
        }
      } else if (ev.kind === "removed") {
        this.detach(ev.strategy);
      }
      applied.push(ev);
    }
    return applied;
  }

  /** The next merged order, or null. The object and its view are valid until the next call. */
  next(): RoutedMessage | null {
    this.checkOpen();
    const m = this.fanIn.next();
    if (m === null) return null;
    this.out.sourceId = m.sourceId;
    this.out.strategy = this.bySource.get(m.sourceId)!;
    this.out.message = m.message;
    return this.out;
  }

  /** Appends a reply to a strategy's orders_in (created on first use). Returns its seq. */
  reply(strategy: string, typeId: number, payload: Uint8Array): number {
    this.checkOpen();
    const a = this.byStrategy.get(strategy);
    if (a === undefined) throw new NotAttached(this.discovery.layout.root, strategy);
    a.replies ??= Queue.openPublisher(a.ordersIn, { preallocate: false, ...this.opts.publisher });
    return a.replies.append(typeId, payload);
  }

  /** Persists a strategy's position after its last delivered order. */
  commit(strategy: string): void {
    const a = this.byStrategy.get(strategy);
    if (a !== undefined) this.fanIn.commit(a.sourceId);
  }

  commitAll(): void {
    this.fanIn.commitAll();
  }

  /** Waits (without blocking the event loop) for an order or a discovery change, at most `timeoutMs`. */
  async waitAsync(timeoutMs: number): Promise<void> {
    this.checkOpen();
    timeoutMs = checkTimeout(timeoutMs, this.discovery.layout.root);
    const stop = new AbortController();
    try {
      await Promise.race([this.fanIn.waitAsync({ timeoutMs, signal: stop.signal }).catch(() => false), this.discovery.whenChanged(timeoutMs)]);
    } finally {
      stop.abort("done");
    }
  }

  /** Blocks up to `timeoutMs` for an order (discovery changes are seen at the next sync). */
  wait(timeoutMs: number): boolean {
    this.checkOpen();
    return this.fanIn.wait(timeoutMs);
  }

  private detach(strategy: string): void {
    const a = this.byStrategy.get(strategy);
    if (a === undefined) return;
    this.byStrategy.delete(strategy);
    this.bySource.delete(a.sourceId);
    this.fanIn.removeReader(a.sourceId);
    a.replies?.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const a of this.byStrategy.values()) a.replies?.close();
    this.byStrategy.clear();
    this.bySource.clear();
    this.fanIn.close();
    this.discovery.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError(this.discovery.layout.root, "router");
  }
}
