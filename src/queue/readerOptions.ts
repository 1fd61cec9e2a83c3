/** The reader's options, and their checks (made before anything is opened). */
import { checkAtLeast, checkBoolean, checkOptions } from "./args.ts";
import type { StartPosition } from "./startPosition.ts";
import { checkWaitOptions, type WaitOptions } from "./wait.ts";

/** Options of a reader (`Queue.openSubscriber`, `Queue.openAnonymous`). */
export interface ReaderOptions {
  /**
   * resume (default): the committed position, or earliest for a new reader; earliest: the oldest
   * segment; latest: the tail; { seq } / { timeNs } / { timeMs } / { last }: where that seek lands
   * (QueueReader.seek, seekTime, seekTimeMs, seekLast). Other than resume, stored at once for a named reader.
   */
  start?: StartPosition | undefined;
  /** Check each payload's CRC (default true). */
  verifyCrc?: boolean | undefined;
  /** How long to wait for the queue (directory and control block) to appear (default 2000 ms). */
  openTimeoutMs?: number | undefined;
  /** How {@link QueueReader.wait} waits: hybrid spin-then-futex (default) or pure spin. */
  wait?: WaitOptions | undefined;
  /** Use a queue directory owned by another user or writable by group/others (default false: UnsafePath). */
  allowShared?: boolean | undefined;
}

/** Checks the options, before anything is opened. */
export function checkReaderOptions(dir: string, options: ReaderOptions | undefined): ReaderOptions {
  const opts = checkOptions(options, "reader options", dir);
  checkBoolean(opts.verifyCrc, "verifyCrc", dir);
  checkBoolean(opts.allowShared, "allowShared", dir);
  checkAtLeast(opts.openTimeoutMs, "openTimeoutMs", 0, dir);
  checkWaitOptions(opts.wait, dir);
  return opts;
}

/** The former name of {@link ReaderOptions}. */
export type SubscriberOptions = ReaderOptions;
