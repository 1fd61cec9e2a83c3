/**
 * The log's single writer, shared by every EventStore of one root in a process and handed from
 * process to process on request. Opening a QueueWriter costs about a millisecond (recovery scans
 * the head segment; see docs/EVENTS.md), far more than an append, so a process keeps the writer
 * after its append (a "lease") until another process asks for it:
 *
 * - The `lease` file in the store root holds shared words: REQUESTS, RELEASES and OPENS.
 * - A process that needs the writer tries to open it. When another process holds it
 *   (WriterAlreadyActive) it bumps REQUESTS (and FUTEX_WAKEs it), then sleeps on RELEASES until
 *   it moves or a short slice ends (a holder killed by kill -9 releases the flock without a word),
 *   and tries again, up to `timeoutMs`. A successful open bumps OPENS.
 * - The holder gives the writer up after any append that finds REQUESTS moved since it took the
 *   writer (once it has held it for `holdMs`), and, while its event loop is idle, as soon as a helper thread sleeping on REQUESTS
 *   sees it move. Then it bumps RELEASES and wakes the sleepers, and its own next open waits
 *   (briefly) until OPENS moves, so that a waiting process gets the writer.
 *
 * The queue's own rule stands throughout: one QueueWriter at a time, enforced by writer.lock.
 */
import { join } from "node:path";
import { CorruptMetadata, ErrnoError, WriterAlreadyActive } from "../errors.ts";
import { Mapping, closeFd, fdSize, futexWait, futexWake, linkPath, pwriteAll, unlinkPath, O_CREAT, O_EXCL, O_RDWR, PAGE_SIZE } from "../ffi/index.ts";
import { AsyncWaiter } from "../queue/asyncWait.ts";
import { openRegular } from "../queue/regularFile.ts";
import { QueueWriter } from "../queue/writer.ts";
import { isQueueDirectory } from "../queue/queue.ts";

/** The lease file in the store root. */
export const LEASE_FILE = "lease";
/** "CEL1" as a little-endian u32, first word of the lease file. */
const LEASE_MAGIC = 0x314c4543;
const MAGIC_W = 0;
const REQUESTS_W = 1;
const RELEASES_W = 2;
/** Bumped by every open of the writer through a lease. */
const OPENS_W = 3;
/** A waiter re-tries the open at least this often (a holder that died releases nothing). */
const RETRY_SLICE_MS = 10;
/** A busy holder keeps the writer at least this many times as long as opening it took. */
const HOLD_PER_OPEN = 2;
/** How long a process that handed the writer over on request leaves it to the others. */
const HANDOVER_GRACE_MS = 5;
/** The idle holder's helper sleeps this long at most between looks at REQUESTS. */
const WATCH_SLICE_MS = 1000;

const leases = new Map<string, WriterLease>();

/** Options the lease passes to the log's QueueWriter when it opens it. */
export interface LeaseWriterOptions {
  /** Segment size of the log if this process creates it (an existing log keeps its own). */
  segmentSize: number;
  /** Least time a busy holder keeps the writer once another process asks for it. */
  holdMs: number;
}

/** One root's writer in this process (see the module comment). Not thread-safe. */
export class WriterLease {
  readonly logDir: string;
  private readonly root: string;
  private readonly path: string;
  private readonly map: Mapping;
  private readonly words: Int32Array;
  private readonly writerOptions: LeaseWriterOptions;
  private refs = 0;
  private current: QueueWriter | null = null;
  private seenRequests = 0;
  private watcher: AsyncWaiter | null = null;
  /** OPENS when this process last handed the writer over on request (null: it did not). */
  private yieldTo: number | null = null;
  /** performance.now() when this process last opened the writer. */
  private openedAt = 0;
  /** The segment size to create the log with; null once it exists (a writer then takes the log's own). */
  private createSize: number | null;
  /** How long the last successful open took. */
  private openMs = 0;
  /** Times this process opened the writer (a measure of hand-overs, for benchmarks and tests). */
  opens = 0;

  private constructor(root: string, logDir: string, opts: LeaseWriterOptions) {
    this.root = root;
    this.path = join(root, LEASE_FILE);
    this.logDir = logDir;
    this.writerOptions = opts;
    this.createSize = isQueueDirectory(logDir) ? null : opts.segmentSize;
    this.map = mapLeaseFile(this.path);
    this.words = this.map.i32;
  }

  /** The lease of `root` (a real path) in this process: one per root, shared by its stores; release() once per acquire(). */
  static acquire(root: string, logDir: string, opts: LeaseWriterOptions): WriterLease {
    let lease = leases.get(root);
    if (lease === undefined) {
      lease = new WriterLease(root, logDir, opts);
      leases.set(root, lease);
    }
    lease.refs++;
    return lease;
  }

  /**
   * The writer, opened unless this process holds it already. While another process holds it,
   * asks for it (REQUESTS, again at every try so that a new holder hears it too) and sleeps on
   * RELEASES between tries; WriterAlreadyActive after `timeoutMs`. A process that has just handed
   * the writer over first lets a waiting process take it (until OPENS moves, at most
   * HANDOVER_GRACE_MS): otherwise, busy in a loop, it would win every race for it.
   */
  writer(timeoutMs: number): QueueWriter {
    if (this.current !== null) return this.current;
    const deadline = performance.now() + timeoutMs;
    if (this.yieldTo !== null) {
      const opens = this.yieldTo;
      this.yieldTo = null;
      const until = performance.now() + Math.min(timeoutMs, HANDOVER_GRACE_MS);
      for (let left = until - performance.now(); left > 0 && Atomics.load(this.words, OPENS_W) === opens; left = until - performance.now()) {
        futexWait(this.map.address + OPENS_W * 4, opens, left);
      }
    }
    let writer: QueueWriter;
    let started: number;
    for (;;) {
      started = performance.now();
      const releases = Atomics.load(this.words, RELEASES_W);
      try {
        writer = QueueWriter.open(this.logDir, this.createSize === null ? { preallocate: false } : { segmentSize: this.createSize, preallocate: false });
        break;
      } catch (e) {
        if (!(e instanceof WriterAlreadyActive)) throw e;
        const left = deadline - performance.now();
        if (left <= 0) throw e;
        this.bump(REQUESTS_W);
        futexWait(this.map.address + RELEASES_W * 4, releases, Math.min(left, RETRY_SLICE_MS));
      }
    }
    this.current = writer;
    this.createSize = null;
    this.openedAt = performance.now();
    this.openMs = this.openedAt - started;
    this.opens++;
    this.bump(OPENS_W);
    this.seenRequests = Atomics.load(this.words, REQUESTS_W);
    this.watch();
    return writer;
  }

  /**
   * After an append (done or refused): hands the writer over when another process asked for it
   * and this one has held it for `holdMs`, and at least twice as long as its open took. The
   * hold lets a busy process run several commands per hand-over instead of one, and keeps the
   * hand-overs (an open and a close each, slower on a loaded machine) to about a third of the time.
   */
  afterAppend(): void {
    if (this.current === null || Atomics.load(this.words, REQUESTS_W) === this.seenRequests) return;
    if (performance.now() - this.openedAt >= Math.max(this.writerOptions.holdMs, HOLD_PER_OPEN * this.openMs)) this.handOver(true);
  }

  get holding(): boolean {
    return this.current !== null;
  }

  /** Drops one reference; the last one closes the writer (if held) and the lease file. */
  release(): void {
    if (--this.refs > 0) return;
    leases.delete(this.root);
    this.handOver();
    this.map.unmap();
  }

  /** Closes the writer and tells waiting processes; `polite` (on request) lets one of them take it first. */
  private handOver(polite = false): void {
    const w = this.watcher;
    this.watcher = null;
    w?.release();
    const writer = this.current;
    if (writer === null) return;
    this.current = null;
    if (polite) this.yieldTo = Atomics.load(this.words, OPENS_W);
    try {
      writer.close();
    } finally {
      this.bump(RELEASES_W);
    }
  }

  /** Increments a shared word and wakes its sleepers. */
  private bump(word: number): void {
    Atomics.add(this.words, word, 1);
    futexWake(this.map.address + word * 4);
  }

  /** While the writer is held: a helper thread sleeps on REQUESTS, so an idle event loop hands over too. */
  private watch(): void {
    const w = AsyncWaiter.acquire();
    this.watcher = w;
    void this.watchLoop(w);
  }

  /** Sleeps first (the helper returns at once if REQUESTS already moved): a hand-over never happens inside writer(). */
  private async watchLoop(w: AsyncWaiter): Promise<void> {
    while (this.watcher === w) {
      w.expect([], { address: this.map.address + REQUESTS_W * 4, seq: this.seenRequests });
      await w.sleep(WATCH_SLICE_MS);
      if (this.watcher === w && Atomics.load(this.words, REQUESTS_W) !== this.seenRequests) this.handOver(true);
    }
  }
}

/**
 * Maps the lease file, creating it complete (temp file linked into place, never replacing one)
 * when absent, so no process ever maps a short file.
 */
function mapLeaseFile(path: string): Mapping {
  const tmp = `${path}.${process.pid}.tmp`;
  let fd: number;
  try {
    fd = openRegular(path, O_RDWR);
  } catch (e) {
    if (!(e instanceof ErrnoError && e.errnoName === "ENOENT")) throw e;
    unlinkPath(tmp);
    const tfd = openRegular(tmp, O_RDWR | O_CREAT | O_EXCL, 0o600);
    try {
      const page = new Uint8Array(PAGE_SIZE);
      new DataView(page.buffer).setUint32(MAGIC_W * 4, LEASE_MAGIC, true);
      pwriteAll(tfd, page, 0, tmp);
    } finally {
      closeFd(tfd);
    }
    linkPath(tmp, path);
    unlinkPath(tmp);
    fd = openRegular(path, O_RDWR);
  }
  try {
    const size = fdSize(fd, path);
    if (size !== PAGE_SIZE) throw new CorruptMetadata(path, `lease file is ${size} bytes, expected ${PAGE_SIZE}`);
    const map = Mapping.map(fd, PAGE_SIZE, path);
    if (map.u32[MAGIC_W] !== LEASE_MAGIC) {
      map.unmap();
      throw new CorruptMetadata(path, "lease file has a bad magic number");
    }
    return map;
  } finally {
    closeFd(fd);
  }
}
