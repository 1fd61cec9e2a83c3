/**
 * Router-side discovery of strategy endpoints (docs/FORMAT.md, Bus layout): watch first (inotify on the
 * strategies directory, on each strategy directory and on each orders_out directory, since READY
 * lives two levels down), then scan. The scan is the truth: a watch event only makes the next
 * poll re-check the strategy it names (or everything, after a queue overflow), and a periodic
 * full rescan recovers anything the watches missed.
 *
 * Waiting for a change (whenChanged, or a StrategyRouter's wait) sleeps on the inotify fd through
 * the one wait loop (queue/wait.ts): it wakes when the fd becomes readable or a rescan is due,
 * re-checks, and returns only when there is something for poll() to report.
 */
import { ClosedError } from "../errors.ts";
import { basename, dirname } from "node:path";
import { Inotify, DIR_CHANGES, IN_IGNORED, IN_ONLYDIR, IN_Q_OVERFLOW, isDirectory, listDir, mkdirp } from "../ffi/index.ts";
import { checkTimeout, NO_CONTROLS, Waiter } from "../queue/wait.ts";
import { checkAtLeast, checkBoolean, checkOptions } from "../queue/args.ts";
import { dirModeFor } from "../queue/access.ts";
import { busLayout, type BusLayout, refuseSymlinkBelowRoot, symlinkBelowRoot, validateStrategyId, type StrategyEndpoints } from "./layout.ts";
import { readyVersion, SUPPORTED_READY_VERSION } from "./markers.ts";

/** What discovery reports: a strategy's READY endpoint appeared (added), went away (removed), or is of a newer version than supported. */
export type DiscoveryEvent =
  | { kind: "added"; strategy: string; ordersOut: string; ordersIn: string }
  | { kind: "removed"; strategy: string }
  /** Reported once per strategy and version: its READY is newer than this library supports. */
  | { kind: "unsupported"; strategy: string; version: number };

/** Options of {@link RouterDiscovery} (and of a router's discovery). */
export interface DiscoveryOptions {
  /** Full rescan period even without watch events (default 1000 ms). */
  rescanIntervalMs?: number | undefined;
  /** Highest READY version to accept (default: what this library supports). */
  supportedVersion?: number | undefined;
  /** Use a bus root owned by another user or writable by group/others (default: the layout's allowShared). */
  allowShared?: boolean | undefined;
}

/** Checks the options, before anything is watched. */
export function checkDiscoveryOptions(options: DiscoveryOptions | undefined, root: string): DiscoveryOptions {
  const opts = checkOptions(options, "discovery options", root);
  // Infinity is fine (watch events only); NaN would make every wait's sleep slice NaN.
  checkAtLeast(opts.rescanIntervalMs, "rescanIntervalMs", 0, root);
  checkAtLeast(opts.supportedVersion, "supportedVersion", 1, root, true);
  checkBoolean(opts.allowShared, "allowShared", root);
  return opts;
}

/** Finds the strategies of a bus root: inotify watches first, scans second, a periodic rescan; yields {@link DiscoveryEvent}s in strategy-id order. */
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
  /** Changes found by hasChanges() and not yet returned by poll(). */
  private found: DiscoveryEvent[] = [];
  /** whenChanged's wait on the inotify fd, made at its first use. */
  private waiter: Waiter | null = null;
  private closed = false;

  constructor(root: string | BusLayout, options?: DiscoveryOptions) {
    this.layout = busLayout(root);
    const opts = checkDiscoveryOptions(options, this.layout.root);
    this.rescanIntervalMs = opts.rescanIntervalMs ?? 1000;
    this.supportedVersion = opts.supportedVersion ?? SUPPORTED_READY_VERSION;
    // A root someone else owns or may write could hold their strategies: refused unless shared on purpose.
    this.layout.checkRoot(opts.allowShared ?? this.layout.allowShared);
    refuseSymlinkBelowRoot(this.layout, this.layout.strategiesDir);
    mkdirp(this.layout.strategiesDir, dirModeFor(this.layout.mode));
    this.layout.checkRoot(opts.allowShared ?? this.layout.allowShared);
    refuseSymlinkBelowRoot(this.layout, this.layout.strategiesDir);
    this.inotify = new Inotify();
    this.watch(this.layout.strategiesDir);
  }

  /** Strategies currently attached (READY and supported), sorted. */
  get strategies(): string[] {
    return [...this.known.keys()].sort(byId);
  }

  /** The inotify fd: readable when a watch fired. For waits that sleep on it; do not read it. */
  get fd(): number {
    return this.inotify.fd;
  }

  /**
   * Changes since the last call, sorted by strategy id. Never blocks: rescans when a watch fired
   * or the rescan period passed, otherwise returns [] at once.
   */
  poll(): DiscoveryEvent[] {
    if (this.closed) throw new ClosedError(this.layout.root, "discovery");
    if (this.found.length > 0) {
      const events = this.found;
      this.found = [];
      return events;
    }
    return this.collect();
  }

  /**
   * True when poll() has changes to report. Never blocks: reads the watch events, re-checks what
   * they name (or rescans when due) and keeps the changes for poll().
   */
  hasChanges(): boolean {
    if (this.closed) throw new ClosedError(this.layout.root, "discovery");
    if (this.found.length === 0) this.found = this.collect();
    return this.found.length > 0;
  }

  /** Milliseconds until the periodic rescan is due (0: due now). */
  msUntilRescan(): number {
    return this.dirty ? 0 : Math.max(0, this.lastScan + this.rescanIntervalMs - performance.now());
  }

  private collect(): DiscoveryEvent[] {
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
    return events.sort((a, b) => byId(a.strategy, b.strategy));
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
    // A strategy directory or orders_out that is a link could point anywhere: never attached,
    // never watched (the watch would follow it), so nothing is created or read through it.
    if (symlinkBelowRoot(this.layout, endpoints.ordersOut) !== null) return null;
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
      if (events.length === 0) await this.whenChanged(Infinity);
    }
  }

  /**
   * Makes poll report `strategy` as added again if it is still there, at the next watch event
   * about it or the next rescan (used when attaching to it failed, e.g. because its queue is
   * still being created or is being deleted; not at once, which would retry in a busy loop).
   */
  forget(strategy: string): void {
    this.known.delete(strategy);
  }

  /**
   * Resolves true when poll() has changes to report, false after `timeoutMs` or when discovery
   * is closed meanwhile. Does not block the event loop: a helper thread sleeps on the inotify fd,
   * and the wait wakes only for watch events and rescans.
   */
  whenChanged(timeoutMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    let timeout: number;
    try {
      timeout = checkTimeout(timeoutMs, this.layout.root);
    } catch (e) {
      return Promise.reject(e);
    }
    this.waiter ??= new Waiter({
      what: "discovery",
      path: this.layout.root,
      controls: () => NO_CONTROLS,
      probe: () => this.hasChanges(),
      heartbeat: () => {},
      fds: [this.inotify.fd],
      sliceMs: () => this.msUntilRescan(),
    }, { spinMicros: 0 });
    return this.waiter.waitAsync(timeout, undefined);
  }

  private watch(path: string): void {
    if (this.watched.has(path)) return;
    const wd = this.inotify.watch(path, DIR_CHANGES | IN_ONLYDIR);
    if (wd < 0) return;
    this.watched.set(path, wd);
    this.watchPaths.set(wd, path);
  }

  /** Stops watching: removes the inotify watches and stops the helper thread. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Its helper thread polls the inotify fd: stop it before the fd goes.
    this.waiter?.close();
    this.inotify.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Strategy ids in code-unit order: the order of every list discovery returns. */
function byId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
