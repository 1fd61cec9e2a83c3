/**
 * The derived index: per stream, its version and where each batch that wrote to it sits in the
 * log. Built by reading the log (never from anything else), kept in memory and brought up to date
 * from the log's tail; readStream verifies every entry against the record it names.
 */
import { forEachSection, batchFirstGlobalSeq, type SectionInfo } from "./batch.ts";

/** Where one stream's batches are: parallel arrays, one entry per batch (ascending versions). */
export class StreamEntry {
  /** The stream's version: its last event's (0 before any). */
  version = 0;
  readonly segments: number[] = [];
  readonly offsets: number[] = [];
  readonly seqs: number[] = [];
  /** Version of the stream's first event in each batch. */
  readonly firstVersions: number[] = [];

  /** Index of the first batch holding a version >= `v` (binary search). */
  batchFor(v: number): number {
    const fv = this.firstVersions;
    let lo = 0;
    let hi = fv.length - 1;
    if (hi < 0 || v <= fv[0]!) return 0;
    // The last batch whose first version is <= v holds v.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (fv[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** A section as collected before the batch is applied (copied: forEachSection reuses its object). */
interface PendingSection {
  stream: string;
  firstVersion: number;
  events: number;
}

/** Every stream's entry, the last globalSeq and the batch count, as derived from the log so far. */
export class StreamIndex {
  private readonly streams = new Map<string, StreamEntry>();
  private readonly pending: PendingSection[] = [];
  /** globalSeq of the last event indexed (0: none). */
  lastGlobalSeq = 0;
  /** Batches indexed. */
  batches = 0;

  /** The stream's entry, or undefined when it has no event. */
  entry(stream: string): StreamEntry | undefined {
    return this.streams.get(stream);
  }

  version(stream: string): number {
    return this.streams.get(stream)?.version ?? 0;
  }

  /** Streams with at least one event. */
  get streamCount(): number {
    return this.streams.size;
  }

  clear(): void {
    this.streams.clear();
    this.lastGlobalSeq = 0;
    this.batches = 0;
  }

  /**
   * Adds the batch at (`segment`, `offset`), record `seq`, payload at `base` of `length` bytes.
   * Returns why it cannot follow what is indexed (malformed, a version or globalSeq out of
   * sequence), or null; the index is unchanged when it refuses.
   */
  apply(segment: number, offset: number, seq: number, dv: DataView, u8: Uint8Array, base: number, length: number): string | null {
    const pending = this.pending;
    pending.length = 0;
    const problem = forEachSection(dv, u8, base, length, (s: SectionInfo) => pending.push({ stream: s.stream, firstVersion: s.firstVersion, events: s.events }));
    if (problem !== null) return problem;
    const first = batchFirstGlobalSeq(dv, base);
    if (first !== this.lastGlobalSeq + 1) return `batch starts at globalSeq ${first}, expected ${this.lastGlobalSeq + 1}`;
    for (let i = 0; i < pending.length; i++) {
      const s = pending[i]!;
      const expected = this.version(s.stream) + 1;
      if (s.firstVersion !== expected) return `stream ${JSON.stringify(s.stream)} continues at version ${s.firstVersion}, expected ${expected}`;
      for (let j = 0; j < i; j++) if (pending[j]!.stream === s.stream) return `stream ${JSON.stringify(s.stream)} has two sections`;
    }
    let events = 0;
    for (const s of pending) {
      let e = this.streams.get(s.stream);
      if (e === undefined) {
        e = new StreamEntry();
        this.streams.set(s.stream, e);
      }
      e.segments.push(segment);
      e.offsets.push(offset);
      e.seqs.push(seq);
      e.firstVersions.push(s.firstVersion);
      e.version = s.firstVersion + s.events - 1;
      events += s.events;
    }
    this.lastGlobalSeq = first + events - 1;
    this.batches++;
    return null;
  }
}
