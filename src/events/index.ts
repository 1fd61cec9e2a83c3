/** chronicle/events: an event store on a chronicle queue and the ADR-014 command executor. */
export { EventStore, LOG_DIR, DEFAULT_STORE_SEGMENT_SIZE, DEFAULT_WRITER_TIMEOUT_MS, type EventStoreOptions } from "./store.ts";
export { Subscription, type SubscriptionOptions } from "./subscription.ts";
export { jsonCodec, type EventCodec } from "./codec.ts";
export { MAX_STREAM_ID_BYTES, MAX_EVENT_TYPE_BYTES } from "./layout.ts";
export {
  execute, DEFAULT_MAX_RETRIES, DEFAULT_BASE_DELAY_MS, DEFAULT_JITTER, DEFAULT_MAX_STREAMS,
  type Command, type CommandStore, type StreamWrite, type RetryPolicy, type ExecuteOptions, type ExecuteResult, type TraceEvent,
} from "./executor.ts";
export type { NewEvent, StoredEvent, ExpectedVersion, AppendWrite, StreamRead, AppendResult } from "./types.ts";
export {
  VersionConflict, UndeclaredStream, ConcurrencyError, TooManyStreams, EventEncodingFailed, type StreamConflict,
  InvalidArgument, PayloadTooLarge, WriterAlreadyActive, CorruptRecord, ClosedError,
} from "../errors.ts";
