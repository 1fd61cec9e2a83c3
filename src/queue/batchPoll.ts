/** The batch poll shared by readers, the fan-in and the router (Aeron's `poll(handler, limit)`). */
import { InvalidArgument } from "../errors.ts";

/** Anything with a non-blocking next(). */
export interface Polled<T> {
  next(): T | null;
}

/**
 * Hands up to `limit` ready records of `source` to `handler`, one call each, and returns how
 * many. Never blocks. Each record counts as consumed once handed over (as with next()), also
 * when the handler throws: the throw ends the poll and propagates, and a commit() after it
 * persists the position past that record.
 */
export function batchPoll<T>(source: Polled<T>, handler: (m: T) => void, limit: number, path: string): number {
  if (typeof handler !== "function") throw new InvalidArgument(path, `poll handler must be a function, got ${handler === null ? "null" : typeof handler}`);
  if (!(limit === Infinity || (Number.isInteger(limit) && limit >= 0))) {
    throw new InvalidArgument(path, `poll limit must be a non-negative integer or Infinity, got ${String(limit)}`);
  }
  let n = 0;
  while (n < limit) {
    const m = source.next();
    if (m === null) break;
    n++;
    handler(m);
  }
  return n;
}
