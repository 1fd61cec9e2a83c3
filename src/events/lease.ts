/**
 * The log's single writer, shared by every EventStore of one root in a process and handed from
 * process to process on request. Opening a QueueWriter costs about a millisecond (recovery scans
 * the head segment; see docs/EVENTS.md), far more than an append, so a process keeps the writer
 * after its append (a "lease") until another process asks for it:
 *
 * - The `lease` file in the store root holds two shared words, REQUESTS and RELEASES.
 * - A process that needs the writer tries to open it. When another process holds it
 *   (WriterAlreadyActive) it bumps REQUESTS (and FUTEX_WAKEs it), then sleeps on RELEASES until
 *   it moves or a short slice ends (a holder killed by kill -9 releases the flock without a word),
 *   and tries again, up to `timeoutMs`.
 * - The holder gives the writer up after any append that finds REQUESTS moved since it took the
 *   writer, and, while its event loop is idle, as soon as a helper thread sleeping on REQUESTS
 *   sees it move. Then it bumps RELEASES and wakes the sleepers.
 *
 * The queue's own rule stands throughout: one QueueWriter at a time, enforced by writer.lock.
 */
import { join } from "node:path";
import { CorruptMetadata, ErrnoError, WriterAlreadyActive } from "../errors.ts";
import { Mapping, closeFd, fdSize, futexWait, futexWake, linkPath, pwriteAll, unlinkPath, O_CREAT, O_EXCL, O_RDWR, PAGE_SIZE } from "../ffi/index.ts";
import { AsyncWaiter } from "../queue/asyncWait.ts";
import { openRegular } from "../queue/regularFile.ts";
import { QueueWriter } from "../queue/writer.ts";

export const LEASE_FILE = "lease";
/** "CEL1" as a little-endian u32, first word of the lease file. */
const LEASE_MAGIC = 0x314c4543;
const MAGIC_W = 0;
const REQUESTS_W = 1;
const RELEASES_W = 2;
/** A waiter re-tries the open at least this often (a holder that died releases nothing). */
const RETRY_SLICE_MS = 2;
/** The idle holder's helper sleeps this long at most between looks at REQUESTS. */
const WATCH_SLICE_MS = 1000;

const leases = new Map<string, WriterLease>();

/** Options the lease passes to the log's QueueWriter when it opens it. */
export interface LeaseWriterOptions {
  segmentSize: number;
}

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
  /** Times this process opened the writer (a measure of hand-overs, for benchmarks and tests). */
  opens = 0;

  private constructor(root: string, logDir: string, opts: LeaseWriterOptions) {
    this.root = root;
    this.path = join(root, LEASE_FILE);
    this.logDir = logDir;
    this.writerOptions = opts;
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

  /** The writer, opened (waiting for another process to hand it over) unless this process holds it. */
  writer(timeoutMs: number): QueueWriter {
    if (this.current !== null) return this.current;
    const deadline = performance.now() + timeoutMs;
    let requested = false;
    for (;;) {
      const releases = Atomics.load(this.words, RELEASES_W);
      try {
        this.current = QueueWriter.open(this.logDir, { segmentSize: this.writerOptions.segmentSize, preallocate: false });
        break;
      } catch (e) {
        if (!(e instanceof WriterAlreadyActive)) throw e;
        const left = deadline - performance.now();
        if (left <= 0) throw e;
        if (!requested) {
          Atomics.add(this.words, REQUESTS_W, 1);
          futexWake(this.map.address + REQUESTS_W * 4);
          requested = true;
        }
        futexWait(this.map.address + RELEASES_W * 4, releases, Math.min(left, RETRY_SLICE_MS));
      }
    }
    this.opens++;
    this.seenRequests = Atomics.load(this.words, REQUESTS_W);
    this.watch();
    return this.current;
  }

  /** After an append (done or refused): hands the writer over when another process asked for it. */
  afterAppend(): void {
    if (this.current !== null && Atomics.load(this.words, REQUESTS_W) !== this.seenRequests) this.handOver();
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

  /** Closes the writer and tells waiting processes. */
  private handOver(): void {
    const w = this.watcher;
    this.watcher = null;
    w?.release();
    const writer = this.current;
    if (writer === null) return;
    this.current = null;
    try {
      writer.close();
    } finally {
      Atomics.add(this.words, RELEASES_W, 1);
      futexWake(this.map.address + RELEASES_W * 4);
    }
  }

  /** While the writer is held: a helper thread sleeps on REQUESTS, so an idle event loop hands over too. */
  private watch(): void {
    const w = AsyncWaiter.acquire();
    this.watcher = w;
    void this.watchLoop(w);
  }

  private async watchLoop(w: AsyncWaiter): Promise<void> {
    while (this.watcher === w) {
      const seq = Atomics.load(this.words, REQUESTS_W);
      if (seq !== this.seenRequests) {
        this.handOver();
        return;
      }
      w.expect([], { address: this.map.address + REQUESTS_W * 4, seq });
      await w.sleep(WATCH_SLICE_MS);
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
