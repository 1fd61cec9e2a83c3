/**
 * The examples' records, as typed-record schemas (no JSON on the hot path): each has a type id
 * and a fixed layout, read through a reusable view (`Tick.view().wrap(m)`) and written in place
 * through an encoder (`Tick.encoder().claim(writer)` … `commit()`), with no allocation either way.
 * The layouts (natural alignment, little-endian) are the byte layouts the examples used before.
 */
import { defaultBusRoot, defineRecord } from "../src/index.ts";

/** A market-data tick: symbol u32 @0, seq u32 @4, bid f64 @8, ask f64 @16, sent (epoch ms, f64) @24. */
export const Tick = defineRecord("Tick", 1, { symbol: "u32", seq: "u32", bid: "f64", ask: "f64", sentMs: "f64" });

/** An order: orderId u32 @0, symbol u32 @4, side u32 @8 (1 buy, 2 sell), qty u32 @12, price f64 @16, sent f64 @24. */
export const Order = defineRecord("Order", 2, { orderId: "u32", symbol: "u32", side: "u32", qty: "u32", price: "f64", sentMs: "f64" });

/** An ack: orderId u32 @0, status u32 @4 (1 accepted), the order's sent time f64 @8, acked f64 @16. */
export const Ack = defineRecord("Ack", 3, { orderId: "u32", status: "u32", orderSentMs: "f64", ackedMs: "f64" });

/** Wall clock in ms with sub-µs resolution, comparable across processes on one host. */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * An example process's command line, `[busRoot] <name...> [--flag value...]`: the bus root is
 * optional (default: this user's `$XDG_RUNTIME_DIR/chronicle-bus` or `<tmp>/chronicle-<uid>/bus`,
 * never a directory shared with other users; the demo passes its own); any other count of positional arguments than `names` prints `usage` and exits 2.
 */
export function commandLine(usage: string, names: number): { root: string; names: string[]; flags: string[] } {
  const args = process.argv.slice(2);
  const end = args.findIndex((a) => a.startsWith("--"));
  const given = end < 0 ? args : args.slice(0, end);
  if (given.length < names || given.length > names + 1) {
    console.error(usage);
    process.exit(2);
  }
  return { root: given.length > names ? given[0]! : defaultBusRoot(), names: given.slice(given.length - names), flags: args.slice(given.length) };
}

/** Small helpers for the example processes' command lines: `--name value` pairs. */
export function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : fallback;
}

/** Percentile of an ascending sorted array (nearest rank). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Resolves on SIGTERM/SIGINT or after `ms`, whichever comes first; `signal` aborts then too (for
 * the waits a process idles in).
 */
export function stopSignal(ms: number): { readonly stopped: boolean; promise: Promise<void>; signal: AbortSignal } {
  const abort = new AbortController();
  const state = { stopped: false, promise: Promise.resolve(), signal: abort.signal };
  state.promise = new Promise<void>((resolve) => {
    const stop = (): void => {
      state.stopped = true;
      abort.abort(new Error("stopped"));
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    if (Number.isFinite(ms)) setTimeout(stop, ms).unref();
  });
  return state;
}

/**
 * One turn of the event loop, so timers and signal handlers run between the bounded blocking
 * waits of a dedicated process's main loop.
 */
export function eventLoopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * How long a dedicated process keeps waiting with the blocking wait after its last message before
 * it idles with waitAsync. The blocking wait (spin, then futex) saves the helper thread's hand-off,
 * about 40 µs per wake-up, but runs no timer or signal handler meanwhile, so it is kept short;
 * waitAsync sleeps until the next message with the event loop free (stop signal, timers).
 */
export const BUSY_WAIT_MS = 20;

/**
 * Idles in `waitAsync` until it resolves or `stop` fires; a stop is not an error, anything else
 * the wait throws is.
 */
export async function idleUntil(waitAsync: (signal: AbortSignal) => Promise<boolean>, stop: { readonly stopped: boolean; signal: AbortSignal }): Promise<void> {
  try {
    await waitAsync(stop.signal);
  } catch (e) {
    if (!stop.stopped) throw e;
  }
}
