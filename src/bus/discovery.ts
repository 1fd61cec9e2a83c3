/**
 * Router-side discovery of strategy endpoints (SPEC section 9): watch first (inotify on the
 * strategies directory, on each strategy directory and on each orders_out directory, since READY
 * lives two levels down), then scan. The scan is the truth: a watch event only makes the next
 * poll re-check the strategy it names (or everything, after a queue overflow), and a periodic
 * full rescan recovers anything the watches missed.
 */
import { ClosedError } from "../errors.ts";
import { basename, dirname } from "node:path";
import { Inotify, parseInotifyEvents, DIR_CHANGES, IN_IGNORED, IN_ONLYDIR, IN_Q_OVERFLOW, isDirectory, listDir, mkdirp } from "../ffi/index.ts";
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
  /** Watched directory -> watch descriptor, and back. */
  private readonly watched = new Map<string, number>();
  private readonly watchPaths = new Map<number, string>();
  /** Strategies named by watch events since the last poll. */
  private readonly touched = new Set<string>();
  private known = new Map<string, StrategyEndpoints>();
  private readonly reported = new Set<string>();
  private dirty = true;
  private lastScan = 0;
  private stream: { read(): Promise<{ value?: Uint8Array }>; cancel(): Promise<void> } | null = null;
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
    this.inotify.drain((wd, mask, name) => this.noteEvent(wd, mask, name));
    if (this.dirty || performance.now() - this.lastScan >= this.rescanIntervalMs) return this.scan();
    if (this.touched.size === 0) return [];
    const ids = [...this.touched];
    this.touched.clear();
    return this.check(ids, false);
  }

  /** Rescans every strategy now and returns the changes. */
  scan(): DiscoveryEvent[] {
    this.dirty = false;
    this.touched.clear();
    this.lastScan = performance.now();
    const events = this.check(listDir(this.layout.strategiesDir), true);
    // Forget watches on directories that went away, so a recreated one gets watched again.
    for (const [path, wd] of this.watched) {
      if (!isDirectory(path)) {
        this.watched.delete(path);
        this.watchPaths.delete(wd);
      }
    }
    return events;
  }

  /**
   * Re-checks strategies `ids` (all of them when `complete`, so known ones missing from `ids`
   * are removed) and returns the changes, sorted by strategy id.
   */
  private check(ids: string[], complete: boolean): DiscoveryEvent[] {
    const events: DiscoveryEvent[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      seen.add(id);
      const endpoints = this.present(id, events);
      const was = this.known.get(id);
      if (endpoints !== null && was === undefined) {
        this.known.set(id, endpoints);
        events.push({ kind: "added", strategy: id, ordersOut: endpoints.ordersOut, ordersIn: endpoints.ordersIn });
      } else if (endpoints === null && was !== undefined) {
        this.known.delete(id);
        events.push({ kind: "removed", strategy: id });
      }
    }
    if (complete) {
      for (const id of [...this.known.keys()]) {
        if (seen.has(id)) continue;
        this.known.delete(id);
        events.push({ kind: "removed", strategy: id });
      }
    }
    return events.sort((a, b) => (a.strategy < b.strategy ? -1 : a.strategy > b.strategy ? 1 : 0));
  }

  /** The endpoints of strategy `id` when it is READY with a supported version, else null. */
  private present(id: string, events: DiscoveryEvent[]): StrategyEndpoints | null {
    let endpoints: StrategyEndpoints;
    try {
      validateStrategyId(id);
      endpoints = this.layout.strategyEndpoints(id);
    } catch {
      return null;
    }
    this.watch(this.layout.strategyDir(id));
    this.watch(endpoints.ordersOut);
    const version = readyVersion(endpoints.ordersOut);
    if (version === null) return null;
    if (!(version <= this.supportedVersion)) {
      const key = `${id}\0${version}`;
      if (!this.reported.has(key)) {
        this.reported.add(key);
        events.push({ kind: "unsupported", strategy: id, version });
      }
      return null;
    }
    return endpoints;
  }

  /** Maps one inotify event to the strategy it concerns. */
  private noteEvent(wd: number, mask: number, name: string): void {
    if ((mask & IN_Q_OVERFLOW) !== 0) {
      this.dirty = true;
      return;
    }
    const path = this.watchPaths.get(wd);
    if (path === undefined) return;
    if ((mask & IN_IGNORED) !== 0) {
      this.watchPaths.delete(wd);
      this.watched.delete(path);
    }
    const strategies = this.layout.strategiesDir;
    if (path === strategies) {
      if (name !== "") this.touched.add(name);
    } else if (dirname(path) === strategies) {
      this.touched.add(basename(path));
    } else if (dirname(dirname(path)) === strategies) {
      this.touched.add(basename(dirname(path)));
    }
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
    this.touched.add(strategy);
  }

  /** Resolves when a watch fires or after `timeoutMs`, whichever comes first. */
  async whenChanged(timeoutMs: number): Promise<void> {
    const stream = (this.stream ??= Bun.file(this.inotify.fd).stream().getReader());
    this.pendingRead ??= stream.read().then(
      (chunk) => {
        this.pendingRead = null;
        if (chunk.value !== undefined) parseInotifyEvents(chunk.value, (wd, mask, name) => this.noteEvent(wd, mask, name));
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
    const wd = this.inotify.watch(path, DIR_CHANGES | IN_ONLYDIR);
    if (wd < 0) return;
    this.watched.set(path, wd);
    this.watchPaths.set(wd, path);
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
