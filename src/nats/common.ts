/** What both bridge directions share: header names, the source identity, connecting, stream checks, backoff. */
import { statSync } from "node:fs";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
import { InvalidArgument, StreamMismatch } from "../errors.ts";
import { checkAtLeast, checkOptions, checkSignal, describe } from "../queue/args.ts";
import { CONTROL_FILE } from "../queue/layout/index.ts";

/** Headers the outbound bridge puts on every message (the payload itself is the record's, unchanged). */
export const HEADER = {
  /** The record's type id, decimal. */
  type: "Chronicle-Type",
  /** The record's seq in its source queue, decimal. */
  seq: "Chronicle-Seq",
  /** The record's timestamp, ns since the Unix epoch, decimal. */
  timestamp: "Chronicle-Timestamp",
  /** The source queue incarnation (see {@link sourceIdentity}). */
  source: "Chronicle-Source",
  /** Where the source queue lives, `<hostname>:<directory>`: for people, never compared. */
  origin: "Chronicle-Origin",
} as const;

/** Retry pacing while NATS or JetStream is unavailable: doubles from `initialMs` up to `maxMs`. */
export interface BackoffOptions {
  /** First wait (default 100 ms). */
  initialMs?: number | undefined;
  /** Longest wait (default 5000 ms). */
  maxMs?: number | undefined;
}

/** Options both bridges take. */
export interface BridgeCommonOptions {
  /** NATS server URL(s), e.g. "nats://10.0.0.5:4222" or several of a cluster. */
  servers: string | string[];
  /** Name of the JetStream stream. */
  stream: string;
  /** Retry pacing (see {@link BackoffOptions}). */
  backoff?: BackoffOptions | undefined;
  /** JetStream API and publish-ack timeout in ms (default 5000). */
  timeoutMs?: number | undefined;
  /** More options for the NATS connection (credentials, TLS, name...); servers and reconnect handling are the bridge's. */
  connection?: Partial<ConnectionOptions> | undefined;
  /** Stops the bridge like {@link Bridge.stop}. */
  signal?: AbortSignal | undefined;
  /** Called for each retry with the error that caused it (default: none; the bridge retries silently). */
  onRetry?: ((error: unknown, delayMs: number) => void) | undefined;
}

/** A running bridge. `done` settles when it stops: resolved after stop(), rejected with the error that stopped it. */
export interface Bridge<Stats> extends AsyncDisposable {
  readonly done: Promise<void>;
  /** Counters since the bridge started. */
  readonly stats: Readonly<Stats>;
  /** Stops after the messages in flight settle; resolves when stopped (never rejects). */
  stop(): Promise<void>;
}

/** The bridge's NATS connection and JetStream manager (opened once, reconnecting by itself). */
export interface Connection {
  nc: NatsConnection;
  jsm: JetStreamManager;
}

/**
 * Runs a bridge: `session` again and again through {@link retryLoop} on one lazily opened
 * connection, until stop(), `options.signal` or a Fatal error. `stopping` runs when a stop is
 * asked for (to end a session's wait), `closed` after the connection is closed.
 */
export function runBridge<Stats extends { retries: number }>(
  options: BridgeCommonOptions,
  clientName: string,
  stats: Stats,
  session: (connection: Connection, signal: AbortSignal) => Promise<boolean>,
  hooks: { stopping?: () => void; closed?: () => void } = {},
): Bridge<Stats> {
  const stop = new AbortController();
  let connection: Connection | null = null;
  const onAbort = (): void => {
    stop.abort();
    hooks.stopping?.();
  };
  options.signal?.addEventListener("abort", onAbort);
  if (options.signal?.aborted) onAbort();
  const done = (async () => {
    try {
      await retryLoop(options, stop.signal, stats, async () => session((connection ??= await openConnection(options, clientName)), stop.signal));
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      await (connection as Connection | null)?.nc.close();
      hooks.closed?.();
    }
  })();
  done.catch(() => {});
  const stopBridge = async (): Promise<void> => {
    onAbort();
    await done.catch(() => {});
  };
  return { done, stats, stop: stopBridge, [Symbol.asyncDispose]: stopBridge };
}

/**
 * The identity of a queue incarnation: inode and birth time (ns) of its control.meta, which is
 * created once with the queue and never replaced. A queue deleted and re-created gets a new one;
 * moving it within a filesystem keeps it; a copy is a new incarnation.
 */
export function sourceIdentity(dir: string): string {
  const st = statSync(join(dir, CONTROL_FILE), { bigint: true });
  if (st.birthtimeNs === 0n) {
    throw new InvalidArgument(dir, "this filesystem reports no birth time for control.meta; pass a sourceId that is unique to this queue incarnation");
  }
  return `${st.ino.toString(36)}-${st.birthtimeNs.toString(36)}`;
}

/** True when NATS `subject` is captured by `pattern` (tokens split on ".", `*` one token, `>` the rest). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** Errors after which retrying cannot help: the bridge stops with them. */
export class Fatal extends Error {
  constructor(readonly error: Error) {
    super(error.message);
  }
}

/** Sleeps `ms`, or less when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/**
 * Runs `session` until `signal` aborts: a Fatal error stops it (rethrown unwrapped), any other
 * error is a retry after a backoff that doubles up to maxMs and resets once a session ran.
 */
async function retryLoop(opts: BridgeCommonOptions, signal: AbortSignal, stats: { retries: number }, session: () => Promise<boolean>): Promise<void> {
  const initial = opts.backoff?.initialMs ?? 100;
  const max = opts.backoff?.maxMs ?? 5000;
  let delay = initial;
  while (!signal.aborted) {
    try {
      if (await session()) delay = initial;
    } catch (e) {
      if (e instanceof Fatal) throw e.error;
      if (signal.aborted) return;
      stats.retries++;
      opts.onRetry?.(e, delay);
      await pause(delay, signal);
      delay = Math.min(max, delay * 2);
    }
  }
}

/** A connection with the client's own reconnects (forever), plus the JetStream manager. */
async function openConnection(opts: BridgeCommonOptions, name: string): Promise<Connection> {
  const nc = await connect({
    name,
    ...opts.connection,
    servers: opts.servers,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: opts.timeoutMs ?? 5000,
  });
  try {
    return { nc, jsm: await jetstreamManager(nc, { timeout: opts.timeoutMs ?? 5000 }) };
  } catch (e) {
    await nc.close();
    throw e;
  }
}

/**
 * Looks the stream up for a session. A stream that does not exist when the bridge first asks is
 * a StreamMismatch (Fatal); once a session has seen it, "not found" is a retry: a cluster that is
 * still recovering after a restart answers so for a while.
 */
export class StreamLookup {
  private seen = false;

  constructor(private readonly stream: string, private readonly path: string) {}

  async info(jsm: JetStreamManager): Promise<StreamInfo> {
    try {
      const info = await jsm.streams.info(this.stream);
      this.seen = true;
      return info;
    } catch (e) {
      if (!this.seen && isApiError(e, 10059)) throw new Fatal(new StreamMismatch(this.path, this.stream, "the stream does not exist; create it first (e.g. nats stream add)"));
      throw e;
    }
  }
}

/** True for a JetStream API error with this error code (10059: stream not found, 10014: consumer not found). */
export function isApiError(e: unknown, code: number): boolean {
  const info = (e as { apiError?: () => { err_code?: number } } | null)?.apiError?.();
  return info?.err_code === code;
}

/**
 * Checks what both bridges take (as given by JavaScript callers too): an options object naming a
 * queue, the servers and stream, and the optional pacing, timeout, signal and retry hook.
 * Returns the queue directory as given.
 */
export function checkCommon(opts: BridgeCommonOptions & { queue: string }, fn: string): string {
  if (typeof opts !== "object" || opts === null || Array.isArray(opts)) throw new InvalidArgument("", `${fn} takes an options object, got ${describe(opts)}`);
  const path = opts.queue;
  if (typeof path !== "string" || path === "") throw new InvalidArgument("", `queue must be a queue directory, got ${describe(path)}`);
  const servers = Array.isArray(opts.servers) ? opts.servers : [opts.servers];
  if (servers.length === 0 || servers.some((s) => typeof s !== "string" || s === "")) throw new InvalidArgument(path, "servers must be a non-empty string or array of strings");
  if (typeof opts.stream !== "string" || !/^[^\s.*>]+$/.test(opts.stream)) throw new InvalidArgument(path, `stream must be a JetStream stream name (no spaces, ".", "*" or ">"), got ${String(opts.stream)}`);
  const backoff = checkOptions(opts.backoff, "backoff", path);
  checkAtLeast(backoff.initialMs, "backoff.initialMs", 1, path);
  checkAtLeast(backoff.maxMs, "backoff.maxMs", 1, path);
  checkAtLeast(opts.timeoutMs, "timeoutMs", 1, path);
  checkOptions(opts.connection, "connection", path);
  checkSignal(opts.signal, path);
  if (opts.onRetry !== undefined && typeof opts.onRetry !== "function") throw new InvalidArgument(path, `onRetry must be a function, got ${describe(opts.onRetry)}`);
  return path;
}
