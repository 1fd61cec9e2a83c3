/**
 * Router-side discovery of strategy endpoints (SPEC section 9): watch first (inotify on the
 * strategies directory, on each strategy directory and on each orders_out directory, since READY
 * lives two levels down), then scan. The scan is the truth: watch events only make the next poll
 * rescan, and a periodic rescan recovers anything the watches missed.
 */
import { ClosedError } from "../errors.ts";
import { Inotify, DIR_CHANGES, IN_ONLYDIR, isDirectory, listDir, mkdirp } from "../ffi/index.ts";
import { BusLayout, validateStrategyId, type StrategyEndpoints } from "./layout.ts";
import { readyVersion, SUPPORTED_READY_VERSION } from "./markers.ts";

export type DiscoveryEvent =
  | { kind: "added"; strategy: string; ordersOut: string; ordersIn: string }
  | { kind: "removed"; strategy: string }
  /** Reported once per strategy and version: its READY is newer than this library supports. */
  | { kind: "unsupported"; strategy: string; version: number };

export interface DiscoveryOptions {
  /** Full rescan period even without watch events (default 1000 ms). */
  rescanIntervalMs?: number;
  /** Highest READY version to accept (default: what this library supports). */
  supportedVersion?: number;
}

export class RouterDiscovery implements Disposable, AsyncIterable<DiscoveryEvent> {
  readonly layout: BusLayout;
  private readonly rescanIntervalMs: number;
  private readonly supportedVersion: number;
  private readonly inotify: Inotify;
  private readonly watched = new Set<string>();
  private known = new Map<string, StrategyEndpoints>();
  private readonly reported = new Set<string>();
  private dirty = true;
  private lastScan = 0;
  private stream: { read(): Promise<unknown>; cancel(): Promise<void> } | null = null;
  private pendingRead: Promise<unknown> | null = null;
  private closed = false;

  constructor(root: string | BusLayout, opts: DiscoveryOptions = {}) {
    this.layout = typeof root === "string" ? new BusLayout(root) : root;
    this.rescanIntervalMs = opts.rescanIntervalMs ?? 1000;
    this.supportedVersion = opts.supportedVersion ?? SUPPORTED_READY_VERSION;
    mkdirp(this.layout.strategiesDir);
    this.inotify = new Inotify();
    this.watch(this.layout.strategiesDir);
  }

  /** Strategies currently attached (READY and supported), sorted. */
  get strategies(): string[] {
    return [...this.known.keys()];
  }

  /**
   * Changes since the last call, sorted by strategy id. Never blocks: rescans when a watch fired
   * or the rescan period passed, otherwise returns [] at once.
   */
  poll(): DiscoveryEvent[] {
    if (this.closed) throw new ClosedError(this.layout.root, "discovery");
    if (this.inotify.drain() > 0) this.dirty = true;
    if (!this.dirty && performance.now() - this.lastScan < this.rescanIntervalMs) return [];
    return this.scan();
  }

  /** Rescans now and returns the changes. */
  scan(): DiscoveryEvent[] {
    this.dirty = false;
    this.lastScan = performance.now();
    const current = new Map<string, StrategyEndpoints>();
    const events: DiscoveryEvent[] = [];
    for (const id of listDir(this.layout.strategiesDir).sort()) {
      let endpoints: StrategyEndpoints;
      try {
        validateStrategyId(id);
        endpoints = this.layout.strategyEndpoints(id);
      } catch {
        continue;
      }
      this.watch(this.layout.strategyDir(id));
      this.watch(endpoints.ordersOut);
      const version = readyVersion(endpoints.ordersOut);
      if (version === null) continue;
      if (!(version <= this.supportedVersion)) {
        const key = `${id}\0${version}`;
        if (!this.reported.has(key)) {
          this.reported.add(key);
          events.push({ kind: "unsupported", strategy: id, version });
        }
        continue;
      }
      current.set(id, endpoints);
    }
    for (const id of this.known.keys()) if (!current.has(id)) events.push({ kind: "removed", strategy: id });
    for (const [id, ep] of current) if (!this.known.has(id)) events.push({ kind: "added", strategy: id, ordersOut: ep.ordersOut, ordersIn: ep.ordersIn });
    this.known = current;
    // Forget watches on directories that went away, so a recreated one gets watched again.
    for (const path of this.watched) if (!isDirectory(path)) this.watched.delete(path);
    return events.sort((a, b) => (a.strategy < b.strategy ? -1 : a.strategy > b.strategy ? 1 : 0));
  }

  /** Yields events as they happen, without blocking the event loop. Ends when closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<DiscoveryEvent> {
    while (!this.closed) {
      const events = this.poll();
      for (const ev of events) yield ev;
      if (events.length === 0) await this.whenChanged(this.rescanIntervalMs);
    }
  }

  /**
   * Makes the next poll report `strategy` as added again if it is still there (used when
   * attaching to it failed, e.g. because it was being deleted).
   */
  forget(strategy: string): void {
    this.known.delete(strategy);
    this.dirty = true;
  }

  /** Resolves when a watch fires or after `timeoutMs`, whichever comes first. */
  async whenChanged(timeoutMs: number): Promise<void> {
    const stream = (this.stream ??= Bun.file(this.inotify.fd).stream().getReader());
    this.pendingRead ??= stream.read().then(
      () => {
        this.pendingRead = null;
        this.dirty = true;
      },
      () => {
        this.pendingRead = null;
      },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.pendingRead, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  private watch(path: string): void {
    if (this.watched.has(path)) return;
    if (this.inotify.watch(path, DIR_CHANGES | IN_ONLYDIR) >= 0) this.watched.add(path);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.stream?.cancel().catch(() => {});
    this.inotify.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
