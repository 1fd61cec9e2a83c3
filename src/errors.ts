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

/** The reader's position points at a segment that no longer exists (deleted by retention). */
export class PositionLost extends ChronicleError {
  readonly segment: number;
  constructor(path: string, segment: number, oldest: number) {
    super("POSITION_LOST", path, `segment ${segment} was deleted (oldest on disk: ${oldest}); reopen with start "earliest" to continue from the oldest segment`);
    this.segment = segment;
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
