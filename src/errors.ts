/**
 * Every error chronicle throws. Each carries a stable `code` and the filesystem path involved,
 * so callers can branch on the class (or code) and operators can find the file.
 */
export class ChronicleError extends Error {
  /** Stable machine-readable code, e.g. "PAYLOAD_TOO_LARGE". */
  readonly code: string;
  /** The file or directory the error is about ("" when none applies). */
  readonly path: string;

  constructor(code: string, path: string, message: string, options?: { cause?: unknown }) {
    super(path ? `${message} (${path})` : message, options);
    this.name = new.target.name;
    this.code = code;
    this.path = path;
  }
}

/** A libc call failed; carries the call name and the errno name (e.g. "ENOSPC"). */
export class ErrnoError extends ChronicleError {
  readonly call: string;
  readonly errno: number;
  readonly errnoName: string;

  constructor(call: string, errno: number, errnoName: string, path: string, detail?: string) {
    super(errnoName, path, `${call} failed: ${errnoName} (errno ${errno})${detail ? `: ${detail}` : ""}`);
    this.call = call;
    this.errno = errno;
    this.errnoName = errnoName;
  }
}

/** An argument is not acceptable (bad reader name, type id out of range, wrong payload type...). */
export class InvalidArgument extends ChronicleError {
  constructor(path: string, message: string) {
    super("INVALID_ARGUMENT", path, message);
  }
}

/**
 * A path chronicle would open or create is a symbolic link (or lies under one) where a queue or
 * bus component must be a real file or directory; nothing was opened through it.
 */
export class UnsafePath extends ChronicleError {
  constructor(path: string, reason: string) {
    super("UNSAFE_PATH", path, reason);
  }
}

/** The record would not fit in one segment; nothing was written. */
export class PayloadTooLarge extends ChronicleError {
  readonly length: number;
  readonly maxLength: number;
  constructor(path: string, length: number, maxLength: number) {
    super("PAYLOAD_TOO_LARGE", path, `payload of ${length} bytes exceeds the maximum of ${maxLength} bytes for this queue's segment size`);
    this.length = length;
    this.maxLength = maxLength;
  }
}

/** Another process (or another writer in this process) holds the queue's writer lock. */
export class WriterAlreadyActive extends ChronicleError {
  /** The lock file's owner record ("<pid> <starttime> <epoch>"), if readable. */
  readonly owner: string;
  constructor(path: string, owner: string) {
    super("WRITER_ALREADY_ACTIVE", path, `another writer holds the queue lock${owner ? ` (owner: ${owner})` : ""}; close it first`);
    this.owner = owner;
  }
}

/** Another open reader uses the same reader name on this queue. */
export class ReaderAlreadyActive extends ChronicleError {
  constructor(path: string) {
    super("READER_ALREADY_ACTIVE", path, "another reader with this name is open; reader names must be unique per queue");
  }
}

/** A file declares a format version this library does not implement. */
export class UnsupportedVersion extends ChronicleError {
  readonly version: number;
  constructor(path: string, version: number, what: string) {
    super("UNSUPPORTED_VERSION", path, `${what} has unsupported format version ${version}`);
    this.version = version;
  }
}

/** A metadata file (control block, reader meta, segment header) is malformed. */
export class CorruptMetadata extends ChronicleError {
  constructor(path: string, reason: string) {
    super("CORRUPT_METADATA", path, reason);
  }
}

/** A committed record failed validation (CRC mismatch or impossible length). */
export class CorruptRecord extends ChronicleError {
  readonly segment: number;
  readonly offset: number;
  constructor(path: string, segment: number, offset: number, reason: string) {
    super("CORRUPT_RECORD", path, `corrupt record in segment ${segment} at offset ${offset}: ${reason}`);
    this.segment = segment;
    this.offset = offset;
  }
}

/** The queue reached its configured capacity and readers have not released space. */
export class QueueFull extends ChronicleError {
  constructor(path: string, reason: string) {
    super("QUEUE_FULL", path, reason);
  }
}

/** The queue (or its directory) does not exist or is not a chronicle queue. */
export class QueueNotFound extends ChronicleError {
  constructor(path: string, reason: string) {
    super("QUEUE_NOT_FOUND", path, reason);
  }
}

/**
 * The reader's position points at a segment that no longer exists (deleted by retention), or a
 * seek asked for a seq older than the oldest record on disk (`seq` and `oldestSeq` say which).
 */
export class PositionLost extends ChronicleError {
  /** The deleted segment the position was in; -1 for a seek by seq. */
  readonly segment: number;
  /** The sought seq, for a seek; -1 otherwise. */
  readonly seq: number;
  /** seq of the oldest record on disk, for a seek; -1 otherwise. */
  readonly oldestSeq: number;
  constructor(path: string, segment: number, oldest: number, sought?: { seq: number; oldestSeq: number }) {
    super("POSITION_LOST", path, sought === undefined
      ? `segment ${segment} was deleted (oldest on disk: ${oldest}); reopen with start "earliest" to continue from the oldest segment`
      : `seq ${sought.seq} is older than the oldest record on disk (seq ${sought.oldestSeq}, segment ${oldest}): retention deleted it; seek to seq ${sought.oldestSeq} or later`);
    this.segment = segment;
    this.seq = sought?.seq ?? -1;
    this.oldestSeq = sought?.oldestSeq ?? -1;
  }
}

/** The writer or reader was used after close(). */
export class ClosedError extends ChronicleError {
  constructor(path: string, what: string) {
    super("CLOSED", path, `${what} is closed`);
  }
}

/** A waitAsync was started while another one is pending on the same reader or fan-in. */
export class WaitPending extends ChronicleError {
  constructor(path: string, what: string) {
    super("WAIT_PENDING", path, `a waitAsync is already pending on this ${what}; await it (or abort it) first`);
  }
}

/** The router was asked to reply to a strategy it has not attached (or has detached). */
export class NotAttached extends ChronicleError {
  readonly strategy: string;
  constructor(path: string, strategy: string) {
    super("NOT_ATTACHED", path, `strategy ${strategy} is not attached; wait for discovery to report it as added`);
    this.strategy = strategy;
  }
}

/** A segment file already exists where a new one was to be created; nothing was overwritten. */
export class SegmentExists extends ChronicleError {
  readonly segment: number;
  constructor(path: string, segment: number) {
    super("SEGMENT_EXISTS", path, `segment ${segment} already exists; refusing to overwrite it`);
    this.segment = segment;
  }
}

/** The background segment preparer failed or did not finish in time. */
export class PreparerFailed extends ChronicleError {
  constructor(path: string, reason: string) {
    super("PREPARER_FAILED", path, reason);
  }
}

/**
 * A record carries a schema's type id but a payload length that no version of the schema has
 * (shorter than its first version, or between two versions): it is not that record.
 */
export class RecordMismatch extends ChronicleError {
  /** The schema's name. */
  readonly record: string;
  readonly typeId: number;
  /** The payload length found. */
  readonly length: number;
  /** Payload length of each version of the schema, oldest first. */
  readonly expected: readonly number[];
  constructor(record: string, typeId: number, length: number, expected: readonly number[]) {
    const versions = expected.map((n, i) => `${n} (v${i + 1})`).join(", ");
    super(
      "RECORD_MISMATCH",
      "",
      `a ${length}-byte payload of type ${typeId} does not fit schema ${record}: its versions have ${versions} bytes, or more for a newer version`,
    );
    this.record = record;
    this.typeId = typeId;
    this.length = length;
    this.expected = expected;
  }
}

/** A value does not fit its record field (string too long or not ASCII, integer out of range, wrong type); refused, never truncated. */
export class RecordValueError extends ChronicleError {
  /** The schema's name. */
  readonly record: string;
  readonly field: string;
  constructor(record: string, field: string, reason: string) {
    super("RECORD_VALUE", "", `${record}.${field}: ${reason}`);
    this.record = record;
    this.field = field;
  }
}

/** One stream whose expected version did not hold, in a {@link VersionConflict}. */
export interface StreamConflict {
  readonly stream: string;
  /** What the write expected: "no_stream", "exists" or an exact version. */
  readonly expected: "no_stream" | "exists" | number;
  /** The stream's version in the log when the append was checked (0: no stream). */
  readonly actual: number;
}

/** An event-store append whose expected versions did not hold; nothing was written. */
export class VersionConflict extends ChronicleError {
  /** Every failing stream, in the order of the append's writes. */
  readonly conflicts: readonly StreamConflict[];
  constructor(path: string, conflicts: readonly StreamConflict[]) {
    const list = conflicts.map((c) => `${JSON.stringify(c.stream)} expected ${String(c.expected)}, actual ${c.actual}`).join("; ");
    super("VERSION_CONFLICT", path, `version conflict, nothing written: ${list}`);
    this.conflicts = conflicts;
  }
}

/** A command wrote to a stream it neither declared nor discovered (permanent: never retried). */
export class UndeclaredStream extends ChronicleError {
  readonly stream: string;
  constructor(path: string, stream: string) {
    super("UNDECLARED_STREAM", path, `the command writes to stream ${JSON.stringify(stream)}, which it neither declared nor discovered; declare it or return it from discoverRelatedStreams`);
    this.stream = stream;
  }
}

/** A command kept conflicting until its retries ran out; its last conflict is the `cause`. */
export class ConcurrencyError extends ChronicleError {
  /** Attempts made (1 + retries). */
  readonly attempts: number;
  constructor(path: string, attempts: number, cause: VersionConflict) {
    super("CONCURRENCY", path, `command gave up after ${attempts} attempts, each ending in a version conflict (last: ${cause.message})`, { cause });
    this.attempts = attempts;
  }
}

/** A command's discovery scheduled more streams than the executor's `maxStreams` (permanent). */
export class TooManyStreams extends ChronicleError {
  readonly limit: number;
  constructor(path: string, limit: number, stream: string) {
    super("TOO_MANY_STREAMS", path, `discovery scheduled more than maxStreams (${limit}) streams (the next one was ${JSON.stringify(stream)}); a resolver that keeps emitting new ids never ends`);
    this.limit = limit;
  }
}

/** An event's data or metadata could not be encoded by the store's codec; nothing was written. */
export class EventEncodingFailed extends ChronicleError {
  readonly stream: string;
  /** Index of the event in its write's `events`. */
  readonly index: number;
  constructor(path: string, stream: string, index: number, reason: string, cause?: unknown) {
    super("EVENT_ENCODING_FAILED", path, `event ${index} of stream ${JSON.stringify(stream)} cannot be encoded: ${reason}; nothing was written`, { cause });
    this.stream = stream;
    this.index = index;
  }
}

/**
 * A JetStream bridge cannot work with the stream as it is: it does not exist, or its subjects do
 * not capture the bridge's subject. The bridge stops; nothing was published or appended for it.
 */
export class StreamMismatch extends ChronicleError {
  readonly stream: string;
  constructor(path: string, stream: string, reason: string) {
    super("STREAM_MISMATCH", path, `JetStream stream ${stream}: ${reason}`);
    this.stream = stream;
  }
}

/**
 * A record is larger than the NATS server accepts (its max_payload, headers included). The
 * outbound bridge stops at it: it is neither published nor skipped, and the reader's position
 * stays before it.
 */
export class PayloadExceedsServerLimit extends ChronicleError {
  readonly seq: number;
  readonly length: number;
  readonly maxPayload: number;
  constructor(path: string, seq: number, length: number, maxPayload: number) {
    super("PAYLOAD_EXCEEDS_SERVER_LIMIT", path, `record seq ${seq} (${length} bytes with its headers) exceeds the NATS server's max_payload of ${maxPayload} bytes; the bridge stopped before it`);
    this.seq = seq;
    this.length = length;
    this.maxPayload = maxPayload;
  }
}

/**
 * The inbound bridge's local queue does not belong to this stream: it holds records the bridge
 * did not write, it was bound to another stream, or the stream was deleted and re-created.
 */
export class BridgeBindingMismatch extends ChronicleError {
  constructor(path: string, reason: string) {
    super("BRIDGE_BINDING_MISMATCH", path, reason);
  }
}
