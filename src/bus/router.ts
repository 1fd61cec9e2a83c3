/**
 * Router-side glue: discovery drives a FanInReader. A strategy that becomes READY is attached
 * (a reader on its orders_out under the router's reader name); one that goes away is
 * detached and its reader closed. Replies go to each strategy's orders_in, which the router
 * publishes.
 *
 * The router's waits sleep on every attached strategy's orders_out and on discovery's inotify fd
 * at once (one FUTEX_WAITV set, through the one wait loop of queue/wait.ts), so they return for
 * an order or a discovery change, whichever comes first, and wake for nothing else while idle
 * except the periodic rescan.
 */
import { ChronicleError, ClosedError, NotAttached } from "../errors.ts";
import { MAX_ASYNC_QUEUES } from "../queue/asyncWait.ts";
import { FanInReader } from "../queue/fanIn.ts";
import { batchPoll } from "../queue/batchPoll.ts";
import type { MessageView } from "../queue/messageView.ts";
import { Queue } from "../queue/queue.ts";
import { asyncWaitArgs, checkTimeout, Waiter, WAIT_TARGET, type AsyncWaitArg } from "../queue/wait.ts";
import { checkBoolean, checkOptions, checkSignal } from "../queue/args.ts";
import { validateComponent } from "../queue/names.ts";
import { MAX_READER_NAME_BYTES } from "../queue/layout/index.ts";
import { checkReaderOptions, DELETION_HANDLED, type ReaderOptions } from "../queue/reader.ts";
import type { QueueWriter, WriterOptions } from "../queue/writer.ts";
import { validateWriterOptions } from "../queue/writerOptions.ts";
import { checkDiscoveryOptions, RouterDiscovery, type DiscoveryEvent, type DiscoveryOptions } from "./discovery.ts";
import { busLayout, refuseSymlinkBelowRoot, validateStrategyId, type BusLayout } from "./layout.ts";

/** An order from a strategy: its id, its fan-in source id and the record (valid until the next call). */
export interface RoutedMessage {
  strategy: string;
  sourceId: number;
  message: MessageView;
}

/** Options of {@link StrategyRouter}. */
export interface StrategyRouterOptions {
  discovery?: DiscoveryOptions | undefined;
  /**
   * Use a bus root (and strategies' queues) owned by another user or writable by group/others
   * (default: the layout's allowShared, false). Passed on to discovery, readers and writers.
   */
  allowShared?: boolean | undefined;
  /** Options for the readers on each orders_out (default: resume). */
  reader?: ReaderOptions | undefined;
  /** Options for the writers of each orders_in. */
  writer?: WriterOptions | undefined;
  /** @deprecated The former name of `reader`, still honoured (`reader` wins). */
  subscriber?: ReaderOptions | undefined;
  /** @deprecated The former name of `writer`, still honoured (`writer` wins). */
  publisher?: WriterOptions | undefined;
}

interface Attached {
  sourceId: number;
  ordersIn: string;
  replies: QueueWriter | null;
}

/** Strategies one router attaches at most: the waits' words, less discovery's. */
export const MAX_STRATEGIES = MAX_ASYNC_QUEUES - 1;

/** Reads the orders of every strategy discovery finds, merged in timestamp order, and writes replies to each strategy's orders_in. */
export class StrategyRouter implements Disposable {
  readonly discovery: RouterDiscovery;
  readonly fanIn = new FanInReader();
  readonly readerName: string;
  private readonly opts: StrategyRouterOptions;
  private readonly allowShared: boolean;
  private readonly byStrategy = new Map<string, Attached>();
  private readonly bySource = new Map<number, string>();
  private readonly out: RoutedMessage = { strategy: "", sourceId: -1, message: null as unknown as MessageView };
  private readonly waiter: Waiter;
  private closed = false;

  constructor(root: string | BusLayout, readerName: string, options?: StrategyRouterOptions) {
    const layout = busLayout(root);
    // Checked now, not at the first attach or reply, where every strategy would fail with them.
    validateComponent(readerName, "reader name", layout.root, MAX_READER_NAME_BYTES);
    const opts = checkOptions(options, "router options", layout.root);
    checkBoolean(opts.allowShared, "allowShared", layout.root);
    for (const key of ["reader", "subscriber"] as const) if (opts[key] !== undefined) checkReaderOptions(layout.root, opts[key]);
    for (const key of ["writer", "publisher"] as const) if (opts[key] !== undefined) validateWriterOptions(layout.root, opts[key]);
    this.allowShared = opts.allowShared ?? layout.allowShared;
    this.discovery = new RouterDiscovery(layout, { allowShared: this.allowShared, ...checkDiscoveryOptions(opts.discovery, layout.root) });
    this.readerName = readerName;
    this.opts = opts;
    const orders = this.fanIn[WAIT_TARGET];
    const discovery = this.discovery;
    this.waiter = new Waiter({
      what: "router",
      path: discovery.layout.root,
      controls: () => orders.controls(),
      // Spinning looks for orders only; discovery is checked (a read of the inotify fd) before each sleep.
      spinProbe: () => orders.probe(),
      probe: () => orders.probe() || discovery.hasChanges(),
      heartbeat: () => orders.heartbeat(),
      fds: [discovery.fd],
      // The rescan is the router's only periodic wake-up; it also bounds a wake-up lost by a writer
      // killed between its commit and its FUTEX_WAKE (see DESIGN.md, Waiting).
      sliceMs: () => discovery.msUntilRescan(),
    });
    // The fan-in closed under a pending waitAsync: check again, which reports it.
    orders.onClose?.(() => this.waiter.refresh());
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
        if (this.byStrategy.size >= MAX_STRATEGIES) {
          // Full: try again when one goes away (at a rescan or an event about this one).
          this.discovery.forget(ev.strategy);
          continue;
        }
        try {
          refuseSymlinkBelowRoot(this.discovery.layout, ev.ordersOut);
          const reader = Queue.openSubscriber(ev.ordersOut, this.readerName, { openTimeoutMs: 200, allowShared: this.allowShared, ...(this.opts.reader ?? this.opts.subscriber) });
          // Discovery reports a strategy whose directory goes away (Removed), and the router detaches it.
          reader[DELETION_HANDLED]();
          const sourceId = this.fanIn.addReader(reader);
          this.byStrategy.set(ev.strategy, { sourceId, ordersIn: ev.ordersIn, replies: null });
          this.bySource.set(sourceId, ev.strategy);
        } catch (e) {
          if (!(e instanceof ChronicleError)) throw e;
          // Not attachable right now (being created or deleted): try again at the next event about it or the next scan.
          this.discovery.forget(ev.strategy);
          continue;
        }
      } else if (ev.kind === "removed") {
        this.detach(ev.strategy);
      }
      applied.push(ev);
    }
    // A pending waitAsync sleeps again on the new set of strategies.
    if (applied.length > 0) this.waiter.refresh();
    return applied;
  }

  /**
   * Calls `handler` for each merged order ready now, at most `limit` (default: all); returns how
   * many. The object and its view are valid during the call; commit()/commitAll() afterwards
   * persist past the orders handed over.
   */
  poll(handler: (m: RoutedMessage) => void, limit = Infinity): number {
    return batchPoll(this, handler, limit, this.discovery.layout.root);
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
    validateStrategyId(strategy, this.discovery.layout.root);
    const a = this.byStrategy.get(strategy);
    if (a === undefined) throw new NotAttached(this.discovery.layout.root, strategy);
    if (a.replies === null) refuseSymlinkBelowRoot(this.discovery.layout, a.ordersIn);
    a.replies ??= Queue.openPublisher(a.ordersIn, {
      preallocate: false, allowShared: this.allowShared, mode: this.discovery.layout.mode, ...(this.opts.writer ?? this.opts.publisher),
    });
    return a.replies.append(typeId, payload);
  }

  /** Persists a strategy's position after its last delivered order. */
  commit(strategy: string): void {
    validateStrategyId(strategy, this.discovery.layout.root);
    const a = this.byStrategy.get(strategy);
    if (a !== undefined) this.fanIn.commit(a.sourceId);
  }

  /** Persists every strategy's position after its last delivered order. */
  commitAll(): void {
    this.fanIn.commitAll();
  }

  /**
   * Blocks until an order is ready from any attached strategy or discovery has a change for
   * {@link sync} (true), or `timeoutMs` passes (false; default: no limit). Spins for 15 µs, then
   * sleeps on every strategy's futex word and discovery's inotify fd at once; while idle it wakes
   * only for the periodic rescan (and, with strategies attached, to refresh their reader
   * heartbeats once a second). Timers and signal handlers do not run meanwhile: a process that
   * needs them bounds the timeout, or uses {@link waitAsync}.
   */
  wait(timeoutMs = Infinity): boolean {
    this.checkOpen();
    const timeout = checkTimeout(timeoutMs, this.discovery.layout.root);
    return this.waiter.waitSync(timeout);
  }

  /**
   * Like {@link wait}, without blocking the event loop: resolves true for an order or a discovery
   * change, false after `timeoutMs` or when the router is closed meanwhile; rejects with the
   * signal's reason when `signal` aborts, and with any error a check meets (a corrupt record, a
   * strategy's reader closed under it). Takes the timeout and signal as arguments, or the
   * options object of a reader's waitAsync.
   */
  async waitAsync(timeoutMs: AsyncWaitArg = Infinity, signal?: AbortSignal): Promise<boolean> {
    this.checkOpen();
    const root = this.discovery.layout.root;
    const args = asyncWaitArgs(timeoutMs, root);
    const abort = checkSignal(signal, root) ?? args.signal;
    if (abort?.aborted) throw abort.reason;
    return this.waiter.waitAsync(args.timeoutMs, abort, args.spinNs);
  }

  private detach(strategy: string): void {
    const a = this.byStrategy.get(strategy);
    if (a === undefined) return;
    this.byStrategy.delete(strategy);
    this.bySource.delete(a.sourceId);
    this.fanIn.removeReader(a.sourceId);
    a.replies?.close();
  }

  /** Closes the readers, the reply writers and discovery. Does not commit. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // First: its helper threads watch the strategies' words and discovery's fd.
    this.waiter.close();
    for (const a of this.byStrategy.values()) a.replies?.close();
    this.byStrategy.clear();
    this.bySource.clear();
    this.fanIn.close();
    this.discovery.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  private checkOpen(): void {
    if (this.closed) throw new ClosedError(this.discovery.layout.root, "router");
  }
}
