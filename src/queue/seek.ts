/**
 * Seek: the position of the first record at or after a seq or a time. A binary search over the
 * segment files by their first record (one pread of a header each, nothing mapped), then a search
 * inside one segment through a sparse index the reader builds in memory as it scans. The index is
 * a hint: every entry is checked against the record it names before it is used, and a mismatch
 * drops the segment's index and scans from the segment start (see DESIGN.md, Seek).
 */
import { CorruptRecord, PositionLost } from "../errors.ts";
import type { Mapping } from "../ffi/index.ts";
import { sealedEndProblem } from "./readerChecks.ts";
import { Segment, listSegmentIds, readSegmentStart } from "./segment.ts";
import { openNext } from "./segmentHandover.ts";
import {
  CORRUPT, NOT_COMMITTED, PADDED, SEGMENT_HEADER_SIZE,
  committedLength, corruptionReason, readableLength, recordLength, recordSeq, recordTimestampHi, recordTimestampLo,
} from "./layout/index.ts";

/** Where a seek left the reader. */
export interface SeekResult {
  /**
   * seq of the record next() returns next; at the head, one past the newest record (0 when the
   * queue holds none), which is the seq this library's writer gives the next record.
   */
  readonly seq: number;
  /** No record is at the position yet: the target lies past the newest record; next() returns the next one appended. */
  readonly atHead: boolean;
}

/** The index has an entry every this many records of a segment: a seek scans at most this many headers. */
const INDEX_EVERY = 32;
/** While extending an index, the kernel is asked to map this much of the segment in at a time. */
const POPULATE_BYTES = 1 << 20;

/** What a seek looks for: a seq, or a timestamp as its u32 halves (compared without BigInt). */
export class SeekTarget {
  private constructor(readonly byTime: boolean, readonly seq: number, readonly hi: number, readonly lo: number) {}

  static seq(seq: number): SeekTarget {
    return new SeekTarget(false, seq, 0, 0);
  }

  static time(ns: bigint): SeekTarget {
    return new SeekTarget(true, 0, Number(ns >> 32n), Number(ns & 0xffffffffn));
  }

  /**
   * A scan for the target may start at a record with this key: seq <= target (seqs are unique, so
   * the record with the target seq is the answer itself), timestamp < target (records with an equal
   * timestamp may come before it).
   */
  startsBefore(seq: number, hi: number, lo: number): boolean {
    if (!this.byTime) return seq <= this.seq;
    return hi < this.hi || (hi === this.hi && lo < this.lo);
  }

  /** A record with this key is the answer: seq >= target, timestamp >= target. */
  reached(seq: number, hi: number, lo: number): boolean {
    if (!this.byTime) return seq >= this.seq;
    return hi > this.hi || (hi === this.hi && lo >= this.lo);
  }
}

/**
 * The sparse index of one segment: the offset and key of every INDEX_EVERY-th record of the
 * stretch from the segment start that this reader has scanned (`records` records). Committed
 * records never change, so the stretch only grows, even in the segment the writer appends to.
 */
class SegmentIndex {
  /** Records from the segment start whose boundaries the index covers. */
  records = 0;
  count = 0;
  offsets = new Uint32Array(64);
  seqs = new Float64Array(64);
  his = new Uint32Array(64);
  los = new Uint32Array(64);

  /** Counts the next record of the covered stretch, at `o`; every INDEX_EVERY-th gets an entry. */
  add(o: number, seq: number, hi: number, lo: number): void {
    if (this.records++ % INDEX_EVERY !== 0) return;
    if (this.count === this.offsets.length) this.grow();
    const i = this.count++;
    this.offsets[i] = o;
    this.seqs[i] = seq;
    this.his[i] = hi;
    this.los[i] = lo;
  }

  /** The last entry a scan for `t` may start from (a crossing point if keys are not monotonic), or -1. */
  lastStartingBefore(t: SeekTarget): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t.startsBefore(this.seqs[mid]!, this.his[mid]!, this.los[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Entry `i` names a committed application record with the entry's seq and timestamp. */
  holds(u32: Uint32Array, size: number, i: number): boolean {
    const o = this.offsets[i]!;
    return readableLength(u32, o, size) >= 0 && recordSeq(u32, o) === this.seqs[i]
      && recordTimestampHi(u32, o) === this.his[i] && recordTimestampLo(u32, o) === this.los[i];
  }

  clear(): void {
    this.records = 0;
    this.count = 0;
  }

  private grow(): void {
    const n = this.offsets.length * 2;
    const offsets = new Uint32Array(n);
    const seqs = new Float64Array(n);
    const his = new Uint32Array(n);
    const los = new Uint32Array(n);
    offsets.set(this.offsets);
    seqs.set(this.seqs);
    his.set(this.his);
    los.set(this.los);
    this.offsets = offsets;
    this.seqs = seqs;
    this.his = his;
    this.los = los;
  }
}

/** Where a seek landed: the segment now mapped in the window (null: no segment exists yet) and the offset in it. */
export interface SeekLanding extends SeekResult {
  segment: Segment | null;
  offset: number;
}

/**
 * A reader's seeks. Holds the segment indexes (built lazily: a reader that never seeks pays
 * nothing), the segment list and the first record keys it has seen, and maps segments into the
 * reader's window. Not thread-safe, like the reader.
 *
 * What is cached only saves syscalls, never decides a result: the search is right as long as the
 * segment it picks exists and holds a record before the target (every record before that one is
 * then before the target too, and the scan goes forward from it across later segments), and that
 * is checked on the mapped segment. When it fails (a segment deleted or replaced since it was
 * cached) the seek runs again from a fresh listing and fresh reads.
 */
export class Seeker {
  private readonly indexes = new Map<number, SegmentIndex>();
  /** The segment ids of the last listing, ascending (empty: list again). */
  private ids: number[] = [];
  /** Key of the first record found by the last probe(). */
  private probeSeq = 0;
  private probeHi = 0;
  private probeLo = 0;
  /** seq of the last record a scan passed without reaching the target (-1: none). */
  private passedSeq = -1;
  /** Offset where the last locate() stopped. */
  private stoppedAt = 0;

  constructor(
    private readonly dir: string,
    private readonly size: number,
    private readonly window: Mapping,
    /** The writer's current segment (a hint): a newer one than the listing's newest means list again. */
    private readonly newestHint: () => number,
    /** The reader's meta (or the queue) for PositionLost. */
    private readonly where: string,
  ) {}

  /**
   * Maps the segment holding the first record that `target` reached into the window (reusing
   * `current`, the segment mapped there now, when it is the one) and returns where. A seq older
   * than every record on disk is PositionLost, unless `clampLost` (then: the oldest record). Throws
   * CorruptRecord when the way to the target crosses a corrupt record; the window may then hold
   * any segment.
   */
  seek(target: SeekTarget, current: Segment | null, clampLost: boolean): SeekLanding {
    for (let fresh = false; ; fresh = true) {
      const ids = this.segmentIds(fresh);
      if (ids.length === 0) return { segment: null, offset: SEGMENT_HEADER_SIZE, seq: 0, atHead: true };
      const picked = this.pick(ids, target, fresh);
      // Nothing before the target: only a fresh look may conclude that (or refuse the seq).
      if (picked < 0 && !fresh) continue;
      if (picked < 0 && !target.byTime && !clampLost) this.refuseLost(ids, target.seq);
      const id = ids[Math.max(0, picked)]!;
      const seg = current !== null && current.id === id ? current : Segment.open(this.dir, id, this.window, "read");
      // Deleted by retention since the listing: look again (retention only takes the oldest).
      if (seg === null) continue;
      // The check that makes the caches safe (see the class comment); after a fresh look, go on regardless.
      if (picked < 0 || fresh || this.startsBefore(seg.window.u32, target)) return this.scanFrom(seg, target);
      this.indexes.clear();
    }
  }

  /** The segment ids: the cached listing unless `fresh` or the writer's hint names a newer segment. */
  private segmentIds(fresh: boolean): number[] {
    const cached = this.ids;
    if (fresh || cached.length === 0 || this.newestHint() > cached[cached.length - 1]!) {
      this.ids = listSegmentIds(this.dir);
      if (this.ids.length > 0) this.forgetBefore(this.ids[0]!);
    }
    return this.ids;
  }

  /** The mapped segment's first record is a committed application record that a scan for `target` may start from. */
  private startsBefore(u32: Uint32Array, target: SeekTarget): boolean {
    const o = SEGMENT_HEADER_SIZE;
    return readableLength(u32, o, this.size) >= 0 && target.startsBefore(recordSeq(u32, o), recordTimestampHi(u32, o), recordTimestampLo(u32, o));
  }

  /**
   * Binary search: the index in `ids` of the last segment whose first record a scan for `target`
   * may start from (-1: none). Segments without a record are stepped over.
   */
  private pick(ids: number[], target: SeekTarget, fresh: boolean): number {
    let lo = 0;
    let hi = ids.length;
    let best = -1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let j = mid;
      while (j < hi && !this.probe(ids[j]!, fresh)) j++;
      if (j === hi) hi = mid;
      else if (target.startsBefore(this.probeSeq, this.probeHi, this.probeLo)) {
        best = j;
        lo = j + 1;
      } else hi = mid;
    }
    return best;
  }

  /**
   * The first record of segment `id`: true, with its key in probeSeq/Hi/Lo, when it is a committed
   * application record. From the segment's index when it has one (unless `fresh`), else one pread
   * of the headers, whose answer starts the index (or, differing from it, drops it). A missing,
   * empty or PAD-only segment, or a corrupt first header, holds no key (a scan that crosses a
   * corrupt one reports it).
   */
  private probe(id: number, fresh: boolean): boolean {
    const ix = this.indexOf(id);
    if (!fresh && ix.count > 0) {
      this.probeSeq = ix.seqs[0]!;
      this.probeHi = ix.his[0]!;
      this.probeLo = ix.los[0]!;
      return true;
    }
    const start = readSegmentStart(this.dir, id);
    const o = SEGMENT_HEADER_SIZE;
    if (start === null || readableLength(start, o, this.size) < 0) {
      ix.clear();
      return false;
    }
    this.probeSeq = recordSeq(start, o);
    this.probeHi = recordTimestampHi(start, o);
    this.probeLo = recordTimestampLo(start, o);
    if (ix.count > 0 && (ix.seqs[0] !== this.probeSeq || ix.his[0] !== this.probeHi || ix.los[0] !== this.probeLo)) ix.clear();
    if (ix.records === 0) ix.add(o, this.probeSeq, this.probeHi, this.probeLo);
    return true;
  }

  /** PositionLost for `seq` when a record is on disk (all of them newer: a fresh search found none older). */
  private refuseLost(ids: number[], seq: number): void {
    for (const id of ids) {
      if (this.probe(id, false)) throw new PositionLost(this.where, -1, ids[0]!, { seq, oldestSeq: this.probeSeq });
    }
  }

  /** From the start of `seg` (or an index entry in it) forward to the first record `target` reached, across segments. */
  private scanFrom(first: Segment, target: SeekTarget): SeekLanding {
    const size = this.size;
    this.passedSeq = -1;
    let seg = first;
    for (;;) {
      const u32 = seg.window.u32;
      const length = this.locate(u32, this.indexOf(seg.id), target);
      let o = this.stoppedAt;
      if (length >= 0) return { segment: seg, offset: o, seq: recordSeq(u32, o), atHead: false };
      if (length === CORRUPT) throw new CorruptRecord(seg.path, seg.id, o, corruptionReason(u32, o, size));
      if (length === PADDED) o = size;
      const atHead: SeekLanding = { segment: seg, offset: o, seq: this.passedSeq + 1, atHead: true };
      if (!seg.sealed) return atHead;
      // As in next(): a commit may have landed just before the seal.
      if (length === NOT_COMMITTED && committedLength(u32, o, size) !== NOT_COMMITTED) continue;
      const problem = sealedEndProblem(u32, o, size);
      if (problem !== null) throw new CorruptRecord(seg.path, seg.id, o, problem);
      const next = openNext(this.dir, seg.id, this.window, false, this.where);
      if (next === null) return atHead;
      seg = next;
    }
  }

  /**
   * In the segment mapped as `u32`: the first record from the last usable index entry on that
   * `target` reached. Returns its payload length, or why the segment's log ends first (PADDED,
   * NOT_COMMITTED, CORRUPT); the offset is left in stoppedAt. Extends the index past its stretch.
   */
  private locate(u32: Uint32Array, ix: SegmentIndex, target: SeekTarget): number {
    const size = this.size;
    let o = SEGMENT_HEADER_SIZE;
    let n = 0;
    const i = ix.lastStartingBefore(target);
    if (i >= 0) {
      if (ix.holds(u32, size, i)) {
        o = ix.offsets[i]!;
        n = i * INDEX_EVERY;
      } else {
        ix.clear();
      }
    }
    let populatedTo = -1;
    for (;;) {
      const length = readableLength(u32, o, size);
      if (length < 0) {
        this.stoppedAt = o;
        return length;
      }
      const seq = recordSeq(u32, o);
      const hi = recordTimestampHi(u32, o);
      const lo = recordTimestampLo(u32, o);
      if (n === ix.records) {
        if (o > populatedTo) populatedTo = this.populate(o);
        ix.add(o, seq, hi, lo);
      }
      if (target.reached(seq, hi, lo)) {
        this.stoppedAt = o;
        return length;
      }
      this.passedSeq = seq;
      o += recordLength(length);
      n++;
    }
  }

  /** Maps the stretch from `o` in (a long scan then takes no page fault per page); returns where to do it again. */
  private populate(o: number): number {
    this.window.populateRead(o, o + POPULATE_BYTES);
    return o + POPULATE_BYTES / 2;
  }

  /** Drops the indexes of segments retention deleted. */
  private forgetBefore(oldest: number): void {
    for (const id of this.indexes.keys()) if (id < oldest) this.indexes.delete(id);
  }

  private indexOf(id: number): SegmentIndex {
    let ix = this.indexes.get(id);
    if (ix === undefined) {
      ix = new SegmentIndex();
      this.indexes.set(id, ix);
    }
    return ix;
  }
}
