/**
 * The command executor of ADR-014: one attempt reads every stream the command declares or
 * discovers exactly once (a FIFO queue with `scheduled` and `visited` sets), folds them into
 * the command's state, and appends what `handle` decides with every visited stream's version as
 * the write barrier. A version conflict retries the whole attempt on fresh state, with backoff.
 */
import { ConcurrencyError, InvalidArgument, TooManyStreams, UndeclaredStream, VersionConflict } from "../errors.ts";
import { describe, checkAtLeast, checkOptions } from "../queue/args.ts";
import type { AppendResult, AppendWrite, NewEvent, StoredEvent, StreamRead } from "./types.ts";
import { checkStreamId } from "./validate.ts";

/** New events for one stream, as `handle` returns them; the executor sets the expected version. */
export interface StreamWrite<E = unknown> {
  readonly stream: string;
  readonly events: readonly NewEvent<E>[];
}

/** A command: the streams it declares, how it folds them, what it discovers and what it writes. */
export interface Command<S, E = unknown> {
  /** Streams read first, in this order (duplicates ignored). */
  readonly streams: readonly string[];
  init(): S;
  /** Folds one event into the state. */
  apply(state: S, event: StoredEvent<E>): S;
  /** Further streams to read, from the state folded so far; asked after each stream is read. Pure. */
  discoverRelatedStreams?(state: S): readonly string[];
  /** The events to write, only to visited streams. Throwing rejects the command (never retried). */
  handle(state: S): StreamWrite<E>[];
}

/** What execute needs of a store (EventStore, or anything that forwards to one). */
export interface CommandStore {
  readonly root: string;
  readStream<E>(stream: string): StreamRead<E>;
  append(writes: readonly AppendWrite[]): AppendResult;
  /** Optional: hold the store's writer until the next append (EventStore.takeWriter), called before each retry. */
  takeWriter?(): void;
}

/** Retries after version conflicts: delay before retry n (1-based) is baseDelayMs * 2^(n-1), ± jitter. */
export interface RetryPolicy {
  /** Retries after the first attempt (default 4). */
  maxRetries?: number | undefined;
  /** Delay before the first retry (default 10 ms). */
  baseDelayMs?: number | undefined;
  /** Relative spread of each delay, 0 to 1 (default 0.2: ±20%). */
  jitter?: number | undefined;
}

/** One step of an execution, in order, for {@link ExecuteOptions.trace}. */
export type TraceEvent =
  | { kind: "attempt"; attempt: number }
  | { kind: "scheduled"; stream: string }
  | { kind: "visited"; stream: string; version: number }
  | { kind: "conflict"; attempt: number; error: VersionConflict; delayMs: number }
  | { kind: "written"; events: number };

/** Options of {@link execute}. */
export interface ExecuteOptions {
  retry?: RetryPolicy | undefined;
  /** Most streams one attempt may schedule (declared and discovered; default 64), then TooManyStreams. */
  maxStreams?: number | undefined;
  /** Called at every step (attempts, each stream scheduled and visited, conflicts, the write). */
  trace?: ((event: TraceEvent) => void) | undefined;
}

/** What {@link execute} returns for a command that succeeded. */
export interface ExecuteResult<E = unknown> {
  /** Attempts made (1 when the first append succeeded). */
  readonly attempts: number;
  /** Streams scheduled in the last attempt, in order. */
  readonly scheduled: string[];
  /** Streams read in the last attempt, in order. */
  readonly visited: string[];
  /** Version of each visited stream as read (the write barrier). */
  readonly versions: ReadonlyMap<string, number>;
  /** The events written, as stored (empty when `handle` wrote nothing). */
  readonly written: StoredEvent<E>[];
}

/** Default retries after the first attempt. */
export const DEFAULT_MAX_RETRIES = 4;
/** Default delay before the first retry, in ms. */
export const DEFAULT_BASE_DELAY_MS = 10;
/** Default relative spread of each retry delay (±20%). */
export const DEFAULT_JITTER = 0.2;
/** Default most streams one attempt may schedule. */
export const DEFAULT_MAX_STREAMS = 64;

/** Runs `command` against `store` (see the module comment and docs/EVENTS.md). */
export async function execute<S, E = unknown>(store: CommandStore, command: Command<S, E>, options?: ExecuteOptions): Promise<ExecuteResult<E>> {
  const root = checkStore(store);
  const opts = checkOptions(options, "execute options", root);
  const retry = checkOptions(opts.retry, "retry", root);
  checkAtLeast(retry.maxRetries, "retry.maxRetries", 0, root, true);
  checkAtLeast(retry.baseDelayMs, "retry.baseDelayMs", 0, root);
  checkAtLeast(opts.maxStreams, "maxStreams", 1, root, true);
  if (retry.jitter !== undefined && !(typeof retry.jitter === "number" && retry.jitter >= 0 && retry.jitter <= 1)) {
    throw new InvalidArgument(root, `retry.jitter must be a number from 0 to 1, got ${describe(retry.jitter)}`);
  }
  if (opts.trace !== undefined && typeof opts.trace !== "function") throw new InvalidArgument(root, `trace must be a function, got ${describe(opts.trace)}`);
  const maxRetries = retry.maxRetries ?? DEFAULT_MAX_RETRIES;
  const baseDelayMs = retry.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const jitter = retry.jitter ?? DEFAULT_JITTER;
  const maxStreams = opts.maxStreams ?? DEFAULT_MAX_STREAMS;
  const trace = opts.trace;
  checkCommand(root, command);

  for (let attempt = 1; ; attempt++) {
    trace?.({ kind: "attempt", attempt });
    // A retry reads and writes while holding the writer: other processes cannot make it conflict again.
    if (attempt > 1) store.takeWriter?.();
    const { state, scheduled, visited, versions } = readPhase(store, command, maxStreams, trace);
    const writes = checkedWrites(root, command.handle(state), versions);
    if (writes === null) return { attempts: attempt, scheduled, visited, versions, written: [] };
    try {
      const result = store.append(writes);
      trace?.({ kind: "written", events: result.events.length });
      return { attempts: attempt, scheduled, visited, versions, written: result.events as StoredEvent<E>[] };
    } catch (e) {
      if (!(e instanceof VersionConflict)) throw e;
      if (attempt > maxRetries) throw new ConcurrencyError(root, attempt, e);
      const delayMs = baseDelayMs * 2 ** (attempt - 1) * (1 + jitter * (2 * Math.random() - 1));
      trace?.({ kind: "conflict", attempt, error: e, delayMs });
      await Bun.sleep(delayMs);
    }
  }
}

/** One attempt's read phase: the FIFO of ADR-014. */
function readPhase<S, E>(store: CommandStore, command: Command<S, E>, maxStreams: number, trace: ExecuteOptions["trace"]): { state: S; scheduled: string[]; visited: string[]; versions: Map<string, number> } {
  const root = store.root;
  const queue: string[] = [];
  const scheduled: string[] = [];
  const scheduledSet = new Set<string>();
  const schedule = (id: unknown, what: string): void => {
    const stream = checkStreamId(root, id, what);
    if (scheduledSet.has(stream)) return;
    if (scheduledSet.size >= maxStreams) throw new TooManyStreams(root, maxStreams, stream);
    scheduledSet.add(stream);
    scheduled.push(stream);
    queue.push(stream);
    trace?.({ kind: "scheduled", stream });
  };
  for (const id of command.streams) schedule(id, "declared stream");
  const visited: string[] = [];
  const versions = new Map<string, number>();
  let state = command.init();
  for (let head = 0; head < queue.length; head++) {
    const stream = queue[head]!;
    if (versions.has(stream)) continue;
    const read = store.readStream<E>(stream);
    for (const event of read.events) state = command.apply(state, event);
    versions.set(stream, read.version);
    visited.push(stream);
    trace?.({ kind: "visited", stream, version: read.version });
    if (command.discoverRelatedStreams !== undefined) {
      const related = command.discoverRelatedStreams(state);
      if (!Array.isArray(related)) throw new InvalidArgument(root, `discoverRelatedStreams must return an array of stream ids, got ${describe(related)}`);
      for (const id of related) schedule(id, "discovered stream");
    }
  }
  return { state, scheduled, visited, versions };
}

/**
 * The append for `handle`'s writes: every visited stream with its version as read (streams only
 * read get no events, only the check). Writes for one stream are merged in order. null when
 * there is no event to write. UndeclaredStream for a stream that was not visited.
 */
function checkedWrites<E>(root: string, writes: unknown, versions: ReadonlyMap<string, number>): AppendWrite<E>[] | null {
  if (!Array.isArray(writes)) throw new InvalidArgument(root, `handle must return an array of { stream, events }, got ${describe(writes)}`);
  const events = new Map<string, NewEvent<E>[]>();
  let total = 0;
  for (const w of writes as unknown[]) {
    if (typeof w !== "object" || w === null) throw new InvalidArgument(root, `handle returned ${describe(w)} where a { stream, events } belongs`);
    const { stream, events: list } = w as { stream: unknown; events: unknown };
    const id = checkStreamId(root, stream, "stream written by handle");
    if (!versions.has(id)) throw new UndeclaredStream(root, id);
    if (!Array.isArray(list)) throw new InvalidArgument(root, `events for stream ${JSON.stringify(id)} must be an array, got ${describe(list)}`);
    let into = events.get(id);
    if (into === undefined) events.set(id, (into = []));
    into.push(...(list as NewEvent<E>[]));
    total += list.length;
  }
  if (total === 0) return null;
  const out: AppendWrite<E>[] = [];
  for (const [stream, version] of versions) out.push({ stream, expected: version, events: events.get(stream) ?? [] });
  return out;
}

/** The store's root, once it is something execute can read from and append to. */
function checkStore(store: unknown): string {
  const s = store as Partial<CommandStore> | null;
  if (typeof s !== "object" || s === null || typeof s.root !== "string" || typeof s.readStream !== "function" || typeof s.append !== "function") {
    throw new InvalidArgument("", `execute takes a store (an EventStore, or an object with root, readStream and append), got ${describe(store)}`);
  }
  return s.root;
}

function checkCommand(root: string, command: unknown): void {
  if (typeof command !== "object" || command === null) throw new InvalidArgument(root, `command must be an object, got ${describe(command)}`);
  const c = command as Record<string, unknown>;
  if (!Array.isArray(c.streams)) throw new InvalidArgument(root, `command.streams must be an array of stream ids, got ${describe(c.streams)}`);
  for (const fn of ["init", "apply", "handle"]) {
    if (typeof c[fn] !== "function") throw new InvalidArgument(root, `command.${fn} must be a function, got ${describe(c[fn])}`);
  }
  if (c.discoverRelatedStreams !== undefined && typeof c.discoverRelatedStreams !== "function") {
    throw new InvalidArgument(root, `command.discoverRelatedStreams must be a function when present, got ${describe(c.discoverRelatedStreams)}`);
  }
}
