/**
 * Queues for tests: creating one, appending the deterministic records of payloads.ts, reading
 * records back. Usable from the test files and from the fixtures (no bun:test here: a failed
 * check throws).
 */
import { Queue, type MessageView, type PublisherOptions, type QueueReader, type QueueWriter } from "../../src/index.ts";
import { fillPayload, payloadMismatch, payloadSize } from "./payloads.ts";

type AnonymousOptions = Parameters<typeof Queue.openAnonymous>[1];

/** [from, from + 1, ..., to - 1]: the seqs from `from` up to, not including, `to`. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** Creates the queue in `dir` (a publisher opened and closed at once); returns `dir`. */
export function createQueue(dir: string, options?: PublisherOptions): string {
  Queue.openPublisher(dir, options).close();
  return dir;
}

let scratch = new Uint8Array(0);

/** Appends the deterministic record of `writer.nextSeq` (payload of up to `max` bytes, type 1); returns its seq. */
export function appendNext(writer: QueueWriter, max: number): number {
  const seq = writer.nextSeq;
  const size = payloadSize(seq, max);
  if (scratch.length < size) scratch = new Uint8Array(Math.max(size, scratch.length * 2));
  const got = writer.append(1, fillPayload(seq, scratch.subarray(0, size)));
  if (got !== seq) throw new Error(`append returned seq ${got}, expected ${seq}`);
  return seq;
}

/**
 * Appends deterministic records (payloads up to `max`) while `more()` holds; returns the segment
 * each appended seq landed in, indexed by seq (`segmentOf`, when given, is filled in and returned).
 */
export function appendWhile(writer: QueueWriter, max: number, more: () => boolean, segmentOf: number[] = []): number[] {
  while (more()) segmentOf[appendNext(writer, max)] = writer.currentSegment;
  return segmentOf;
}

/** Appends `n` deterministic records; returns the segment of each seq as {@link appendWhile} does. */
export function appendCount(writer: QueueWriter, max: number, n: number, segmentOf: number[] = []): number[] {
  const end = writer.nextSeq + n;
  return appendWhile(writer, max, () => writer.nextSeq < end, segmentOf);
}

/** Throws unless `m` carries the deterministic payload of its seq (payloads up to `max`). */
export function checkPayload(m: MessageView, max: number): void {
  const at = payloadMismatch(m.seq, m.payload, max);
  if (at >= 0) throw new Error(`payload of seq ${m.seq} is wrong at byte ${at} (length ${m.payload.length})`);
}

/** Calls next() (of a reader or a fan-in) until it returns null; returns `map` of every record read. */
export function drain<M, T>(source: { next(): M | null }, map: (m: M) => T): T[] {
  const out: T[] = [];
  for (let m = source.next(); m !== null; m = source.next()) out.push(map(m));
  return out;
}

/** The seqs of every record `reader` has left to read now. */
export function readSeqs(reader: QueueReader): number[] {
  return drain(reader, (m) => m.seq);
}

/** The seqs of the next `n` records, each of which must be there (stops short of what follows, e.g. a corrupt record). */
export function takeSeqs(reader: QueueReader, n: number): number[] {
  return Array.from({ length: n }, () => {
    const m = reader.next();
    if (m === null) throw new Error(`expected ${n} records to be ready`);
    return m.seq;
  });
}

/** `map` of every record of the queue in `dir`, from its oldest segment (an anonymous reader). */
export function readRecords<T>(dir: string, map: (m: MessageView) => T, options?: AnonymousOptions): T[] {
  using reader = Queue.openAnonymous(dir, options);
  return drain(reader, map);
}

/** Every seq of the queue in `dir` from its oldest segment, each payload checked (deterministic, up to `max` bytes). */
export function readAll(dir: string, max: number, options?: AnonymousOptions): number[] {
  return readRecords(dir, (m) => (checkPayload(m, max), m.seq), options);
}

/**
 * The next record of `reader`, waiting for one (in `sliceMs` waits) until `deadline`
 * (performance.now() time); null once the deadline has passed with nothing to read.
 */
export function nextBefore(reader: QueueReader, deadline: number, sliceMs = 100): MessageView | null {
  for (;;) {
    const m = reader.next();
    if (m !== null || performance.now() > deadline) return m;
    reader.wait(sliceMs);
  }
}

/** {@link nextBefore} with waitAsync, leaving the event loop free while it waits. */
export async function nextBeforeAsync(reader: QueueReader, deadline: number, sliceMs = 100): Promise<MessageView | null> {
  for (;;) {
    const m = reader.next();
    if (m !== null || performance.now() > deadline) return m;
    await reader.waitAsync({ timeoutMs: sliceMs });
  }
}
