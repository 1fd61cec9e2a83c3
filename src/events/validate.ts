/** Checks of the store's inputs, made before anything is encoded or written. */
import { InvalidArgument } from "../errors.ts";
import { describe } from "../queue/args.ts";
import { MAX_EVENT_TYPE_BYTES, MAX_STREAM_ID_BYTES, MAX_VERSION } from "./layout.ts";
import type { ExpectedVersion } from "./types.ts";

/** A stream id: a non-empty, well-formed string of at most MAX_STREAM_ID_BYTES UTF-8 bytes. */
export function checkStreamId(root: string, id: unknown, what = "stream id"): string {
  if (typeof id !== "string") throw new InvalidArgument(root, `${what} must be a string, got ${describe(id)}`);
  if (id.length === 0) throw new InvalidArgument(root, `${what} must not be empty`);
  // A lone surrogate would be encoded as U+FFFD: two different ids would name one stream.
  if (!id.isWellFormed()) throw new InvalidArgument(root, `${what} contains a lone surrogate (not well-formed Unicode)`);
  const bytes = Buffer.byteLength(id, "utf8");
  if (bytes > MAX_STREAM_ID_BYTES) throw new InvalidArgument(root, `${what} is ${bytes} UTF-8 bytes, more than the ${MAX_STREAM_ID_BYTES} allowed`);
  return id;
}

/** A version argument: an integer in [min, MAX_VERSION]. */
export function checkVersion(root: string, v: unknown, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > MAX_VERSION) {
    throw new InvalidArgument(root, `${what} must be an integer from ${min} to ${MAX_VERSION}, got ${describe(v)}`);
  }
  return v;
}

function checkExpected(root: string, expected: unknown, stream: string): ExpectedVersion {
  if (expected === "any" || expected === "no_stream" || expected === "exists") return expected;
  if (typeof expected === "number") return checkVersion(root, expected, `expected version of stream ${JSON.stringify(stream)}`, 0);
  throw new InvalidArgument(root, `expected of stream ${JSON.stringify(stream)} must be "any", "no_stream", "exists" or a version, got ${describe(expected)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks an append's writes; returns the number of events. InvalidArgument for anything malformed. */
export function checkWrites(root: string, writes: unknown): number {
  if (!Array.isArray(writes)) throw new InvalidArgument(root, `append takes an array of writes, got ${describe(writes)}`);
  if (writes.length === 0) throw new InvalidArgument(root, "append needs at least one write");
  const seen = new Set<string>();
  let events = 0;
  for (let i = 0; i < writes.length; i++) {
    const w: unknown = writes[i];
    if (!isObject(w)) throw new InvalidArgument(root, `write ${i} must be an object { stream, expected, events }, got ${describe(w)}`);
    const stream = checkStreamId(root, w.stream, `write ${i}'s stream`);
    if (seen.has(stream)) throw new InvalidArgument(root, `stream ${JSON.stringify(stream)} appears in two writes of one append; put its events in one write`);
    seen.add(stream);
    checkExpected(root, w.expected, stream);
    const list = w.events;
    if (!Array.isArray(list)) throw new InvalidArgument(root, `events of stream ${JSON.stringify(stream)} must be an array, got ${describe(list)}`);
    for (let j = 0; j < list.length; j++) {
      const e: unknown = list[j];
      if (!isObject(e)) throw new InvalidArgument(root, `event ${j} of stream ${JSON.stringify(stream)} must be an object { type, data, metadata? }, got ${describe(e)}`);
      checkEventType(root, e.type, stream, j);
    }
    events += list.length;
  }
  if (events === 0) throw new InvalidArgument(root, "append has no event to write");
  return events;
}

function checkEventType(root: string, type: unknown, stream: string, index: number): void {
  const what = `type of event ${index} of stream ${JSON.stringify(stream)}`;
  if (typeof type !== "string" || type.length === 0) throw new InvalidArgument(root, `${what} must be a non-empty string, got ${describe(type)}`);
  if (!type.isWellFormed()) throw new InvalidArgument(root, `${what} contains a lone surrogate`);
  if (Buffer.byteLength(type, "utf8") > MAX_EVENT_TYPE_BYTES) throw new InvalidArgument(root, `${what} is longer than ${MAX_EVENT_TYPE_BYTES} UTF-8 bytes`);
}
