/** control.meta layout: a 512-byte block shared-mapped by the writer and every reader. */

export const CONTROL_SIZE = 512;
export const CONTROL_MAGIC = 0x4348524e;
export const SUPPORTED_FORMAT_VERSIONS = [1, 2] as const;
/** On-disk format: 1 (compatible with the Rust reference, 1 MiB segments) or 2 (this project's extension). */
export type FormatVersion = (typeof SUPPORTED_FORMAT_VERSIONS)[number];

export const CTL_MAGIC_OFF = 0;
export const CTL_VERSION_OFF = 4;
export const CTL_INIT_STATE_OFF = 8;
export const CTL_WRITER_EPOCH_OFF = 16;
/** v2 only. */
export const CTL_SEGMENT_SIZE_OFF = 24;
export const CTL_CURRENT_SEGMENT_OFF = 132;
export const CTL_WRITE_OFFSET_OFF = 264;
export const CTL_WRITER_HEARTBEAT_OFF = 272;
/** The futex word: +1 after every commit and roll. */
export const CTL_NOTIFY_SEQ_OFF = 280;
/** v2 only: readers asleep or about to sleep. */
export const CTL_WAITERS_PENDING_OFF = 284;

/**
 * Sleepers on notify_seq wake at least this often and re-check for a record, so a lost wake-up
 * (a writer killed between commit and wake) costs at most one slice.
 */
export const SLEEP_SLICE_MS = 100;
/**
 * Sleepers the writer never wakes (format v2 readers that map control.meta read-only, so they
 * cannot register in waiters_pending) re-check this often instead.
 */
export const UNREGISTERED_POLL_MS = 10;
/** A sleeping reader refreshes its heartbeat this often, so a long idle wait does not look dead. */
export const SLEEPER_HEARTBEAT_MS = 1000;

export const CTL_MAGIC_W = CTL_MAGIC_OFF >> 2;
export const CTL_VERSION_W = CTL_VERSION_OFF >> 2;
export const CTL_INIT_STATE_W = CTL_INIT_STATE_OFF >> 2;
export const CTL_WRITER_EPOCH_W = CTL_WRITER_EPOCH_OFF >> 2;
export const CTL_SEGMENT_SIZE_W = CTL_SEGMENT_SIZE_OFF >> 2;
export const CTL_CURRENT_SEGMENT_W = CTL_CURRENT_SEGMENT_OFF >> 2;
export const CTL_WRITE_OFFSET_W = CTL_WRITE_OFFSET_OFF >> 2;
export const CTL_WRITER_HEARTBEAT_W = CTL_WRITER_HEARTBEAT_OFF >> 2;
export const CTL_NOTIFY_SEQ_W = CTL_NOTIFY_SEQ_OFF >> 2;
export const CTL_WAITERS_PENDING_W = CTL_WAITERS_PENDING_OFF >> 2;

export const INIT_NEW = 0;
export const INIT_INITIALIZING = 1;
export const INIT_READY = 2;
