/** The event store's data types: events as written and as stored, writes and their expectations. */

/** An event to append: its type name, data and optional metadata (both encoded by the store's codec). */
export interface NewEvent<E = unknown> {
  readonly type: string;
  readonly data: E;
  readonly metadata?: unknown;
}

/** An event as the store holds it. */
export interface StoredEvent<E = unknown> {
  readonly stream: string;
  /** 1-based position in its stream. */
  readonly version: number;
  readonly type: string;
  readonly data: E;
  /** Present only when the event was written with metadata. */
  readonly metadata?: unknown;
  /** 1-based position among all events of the store: orders every event, across streams. */
  readonly globalSeq: number;
  /** When the append that wrote it reached the log (ns since the Unix epoch); shared by the events of one append. */
  readonly timestampNs: bigint;
}

/**
 * What a write expects of its stream before the append: "any" (no check), "no_stream" (version
 * 0), "exists" (version > 0) or an exact version.
 */
export type ExpectedVersion = "any" | "no_stream" | "exists" | number;

/** One stream's part of an append: its expectation and its new events (none: only the check). */
export interface AppendWrite<E = unknown> {
  readonly stream: string;
  readonly expected: ExpectedVersion;
  readonly events: readonly NewEvent<E>[];
}

/** What `readStream` returns: the events from `fromVersion` and the stream's current version. */
export interface StreamRead<E = unknown> {
  readonly stream: string;
  /** The stream's version (its last event's), 0 when the stream has no event. */
  readonly version: number;
  readonly events: StoredEvent<E>[];
}

/** Result of an append: the stored events in write order and the log position after them. */
export interface AppendResult {
  readonly events: StoredEvent[];
  /** globalSeq of the last event written. */
  readonly lastGlobalSeq: number;
}
