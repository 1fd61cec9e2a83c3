import { describe, expect, test } from "bun:test";
import {
  ConcurrencyError, EventStore, InvalidArgument, TooManyStreams, UndeclaredStream, execute,
  type AppendWrite, type Command, type CommandStore, type StoredEvent, type StreamWrite, type TraceEvent,
} from "../src/events/index.ts";
import { TempDir } from "./helpers/tmp.ts";

/** The real store, counting the calls the executor makes (reads per stream, appends). */
class Counting implements CommandStore {
  readonly reads = new Map<string, number>();
  appends = 0;
  /** Called before each append is forwarded: a hook to make a real competing write first. */
  beforeAppend: ((n: number) => void) | null = null;
  constructor(readonly store: EventStore) {}
  get root(): string {
    return this.store.root;
  }
  readStream<E>(stream: string) {
    this.reads.set(stream, (this.reads.get(stream) ?? 0) + 1);
    return this.store.readStream<E>(stream);
  }
  append(writes: readonly AppendWrite[]) {
    this.appends++;
    this.beforeAppend?.(this.appends);
    return this.store.append(writes);
  }
}

const NO_WAIT = { retry: { baseDelayMs: 0 } };

/** State of an order command: the order's account and symbol as folded, and every event seen. */
interface OrderState {
  account: string | null;
  symbol: string | null;
  seen: string[];
}

/** Declares order-1; discovers its account and instrument from the order's events. */
function fillCommand(write: (s: OrderState) => StreamWrite[]): Command<OrderState> {
  return {
    streams: ["order-1"],
    init: () => ({ account: null, symbol: null, seen: [] }),
    apply: (s, e: StoredEvent) => {
      const d = e.data as { account?: string; symbol?: string };
      return { account: d.account ?? s.account, symbol: d.symbol ?? s.symbol, seen: [...s.seen, `${e.stream}:${e.type}`] };
    },
    discoverRelatedStreams: (s) => [s.account, s.symbol].filter((x): x is string => x !== null),
    handle: write,
  };
}

function seedOrder(store: EventStore): void {
  store.append([{ stream: "order-1", expected: "no_stream", events: [{ type: "placed", data: { account: "account-7", symbol: "instrument-XYZ" } }] }]);
  store.append([{ stream: "account-7", expected: "no_stream", events: [{ type: "opened", data: {} }] }]);
  store.append([{ stream: "instrument-XYZ", expected: "no_stream", events: [{ type: "listed", data: {} }] }]);
}

describe("execute: discovery (ADR-014)", () => {
  test("discovered streams are loaded before handle, accept writes, and every stream is read exactly once", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    seedOrder(store);
    const counting = new Counting(store);
    let seenByHandle: string[] = [];
    const r = await execute(counting, fillCommand((s) => {
      seenByHandle = s.seen;
      return [
        { stream: "order-1", events: [{ type: "filled", data: { qty: 5 } }] },
        { stream: "account-7", events: [{ type: "position-changed", data: { symbol: s.symbol, delta: 5 } }] },
      ];
    }));
    expect(seenByHandle).toEqual(["order-1:placed", "account-7:opened", "instrument-XYZ:listed"]);
    expect(r.attempts).toBe(1);
    expect(r.visited).toEqual(["order-1", "account-7", "instrument-XYZ"]);
    expect(r.scheduled).toEqual(["order-1", "account-7", "instrument-XYZ"]);
    expect([...r.versions]).toEqual([["order-1", 1], ["account-7", 1], ["instrument-XYZ", 1]]);
    expect([...counting.reads]).toEqual([["order-1", 1], ["account-7", 1], ["instrument-XYZ", 1]]);
    expect(r.written.map((e) => [e.stream, e.version, e.type])).toEqual([["order-1", 2, "filled"], ["account-7", 2, "position-changed"]]);
    expect(store.readStream("account-7").version).toBe(2);
    expect(store.readStream("instrument-XYZ").version).toBe(1);
  });

  test("declared duplicates and ids discovered again are read once; visited follows FIFO order, the same on every run", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const graph: Record<string, string[]> = { a: ["c", "b"], b: ["d", "a"], c: ["d", "e"], d: ["a"], e: [] };
    for (const id of Object.keys(graph)) store.append([{ stream: id, expected: "any", events: [{ type: "links", data: graph[id] }] }]);
    const runs: string[][] = [];
    for (let run = 0; run < 3; run++) {
      const counting = new Counting(store);
      const r = await execute(counting, {
        streams: ["a", "b", "a"],
        init: () => [] as string[],
        apply: (s: string[], e: StoredEvent) => [...s, ...(e.data as string[])],
        discoverRelatedStreams: (s: string[]) => s,
        handle: () => [],
      });
      expect([...counting.reads.values()].every((n) => n === 1)).toBe(true);
      expect(counting.appends).toBe(0);
      runs.push(r.visited);
    }
    // a, b declared; a's links c, b (b already scheduled); then b's d; c's e.
    expect(runs[0]).toEqual(["a", "b", "c", "d", "e"]);
    expect(runs[1]).toEqual(runs[0]!);
    expect(runs[2]).toEqual(runs[0]!);
  });

  test("the trace hook reports attempts, each stream scheduled and visited, in order", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    seedOrder(store);
    const trace: string[] = [];
    await execute(store, fillCommand(() => [{ stream: "order-1", events: [{ type: "filled", data: {} }] }]), {
      trace: (e: TraceEvent) => trace.push(e.kind === "scheduled" || e.kind === "visited" ? `${e.kind} ${e.stream}` : e.kind),
    });
    expect(trace).toEqual([
      "attempt", "scheduled order-1", "visited order-1", "scheduled account-7", "scheduled instrument-XYZ",
      "visited account-7", "visited instrument-XYZ", "written",
    ]);
  });

  test("a resolver that keeps emitting new ids stops at maxStreams with TooManyStreams, nothing written", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const counting = new Counting(store);
    let n = 0;
    const e = await execute(counting, {
      streams: ["s0"],
      init: () => 0,
      apply: (s: number) => s,
      discoverRelatedStreams: () => [`s${++n}`],
      handle: () => [{ stream: "s0", events: [{ type: "never", data: 0 }] }],
    }, { maxStreams: 10 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TooManyStreams);
    expect((e as TooManyStreams).limit).toBe(10);
    expect(counting.reads.size).toBe(10);
    expect(counting.appends).toBe(0);
  });
});

describe("execute: write barrier and retries", () => {
  test("writing to a stream that was not visited is UndeclaredStream, permanent: one attempt, nothing written", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const counting = new Counting(store);
    let handled = 0;
    const e = await execute(counting, {
      streams: ["a"],
      init: () => null,
      apply: (s: null) => s,
      handle: () => {
        handled++;
        return [{ stream: "a", events: [{ type: "ok", data: 1 }] }, { stream: "elsewhere", events: [{ type: "sneaky", data: 1 }] }];
      },
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UndeclaredStream);
    expect((e as UndeclaredStream).stream).toBe("elsewhere");
    expect(handled).toBe(1);
    expect(counting.appends).toBe(0);
    expect(store.lastGlobalSeq).toBe(0);
  });

  test("errors from handle, the resolver and apply are permanent: thrown as they are, never retried", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    store.append([{ stream: "a", expected: "any", events: [{ type: "e", data: 1 }] }]);
    const rejection = new Error("insufficient funds");
    for (const where of ["handle", "discoverRelatedStreams", "apply"] as const) {
      const counting = new Counting(store);
      let calls = 0;
      const fail = (): never => {
        calls++;
        throw rejection;
      };
      const command: Command<number> = {
        streams: ["a"],
        init: () => 0,
        apply: where === "apply" ? fail : (s) => s + 1,
        discoverRelatedStreams: where === "discoverRelatedStreams" ? fail : () => [],
        handle: where === "handle" ? fail : () => [],
      };
      expect(await execute(counting, command).catch((x: unknown) => x)).toBe(rejection);
      expect(calls).toBe(1);
      expect([...counting.reads.values()]).toEqual([1]);
      expect(counting.appends).toBe(0);
    }
    expect(await execute(store, { streams: [5] as unknown as string[], init: () => 0, apply: (s: number) => s, handle: () => [] }).catch((x: unknown) => x)).toBeInstanceOf(InvalidArgument);
    expect(store.lastGlobalSeq).toBe(1);
  });

  test("one conflict (a real competing write before the first append) gives exactly two append attempts; the retry folds the fresh state", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const counting = new Counting(store);
    counting.beforeAppend = (n) => {
      if (n === 1) store.append([{ stream: "counter", expected: "any", events: [{ type: "incremented", data: { by: "rival" } }] }]);
    };
    const folded: number[] = [];
    const r = await execute(counting, {
      streams: ["counter"],
      init: () => 0,
      apply: (s: number) => s + 1,
      handle: (s: number) => {
        folded.push(s);
        return [{ stream: "counter", events: [{ type: "incremented", data: { by: "me", value: s + 1 } }] }];
      },
    }, NO_WAIT);
    expect(r.attempts).toBe(2);
    expect(counting.appends).toBe(2);
    expect(counting.reads.get("counter")).toBe(2);
    expect(folded).toEqual([0, 1]);
    expect(store.readStream("counter").events.map((e) => (e.data as { by: string }).by)).toEqual(["rival", "me"]);
  });

  test("a read-only participant is part of the barrier: a concurrent write to B fails the command, and nothing is written to A", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    store.append([{ stream: "B", expected: "any", events: [{ type: "limit", data: 10 }] }]);
    const counting = new Counting(store);
    counting.beforeAppend = () => store.append([{ stream: "B", expected: "any", events: [{ type: "limit", data: 0 }] }]);
    const e = await execute(counting, {
      streams: ["A", "B"],
      init: () => 0,
      apply: (s: number) => s,
      handle: () => [{ stream: "A", events: [{ type: "used", data: 1 }] }],
    }, { retry: { maxRetries: 2, baseDelayMs: 0 } }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConcurrencyError);
    expect((e as ConcurrencyError).attempts).toBe(3);
    expect(((e as ConcurrencyError).cause as { conflicts: unknown }).conflicts).toEqual([{ stream: "B", expected: 3, actual: 4 }]);
    expect(counting.appends).toBe(3);
    expect(store.readStream("A").version).toBe(0);
    expect(store.readStream("B").version).toBe(4);
  });

  test("retries back off exponentially from baseDelayMs with the jitter given; defaults are 4 retries, 10 ms, ±20%", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const counting = new Counting(store);
    counting.beforeAppend = () => store.append([{ stream: "c", expected: "any", events: [{ type: "rival", data: 0 }] }]);
    const delays: number[] = [];
    const command: Command<number> = { streams: ["c"], init: () => 0, apply: (s) => s, handle: () => [{ stream: "c", events: [{ type: "mine", data: 1 }] }] };
    const e = await execute(counting, command, { retry: { baseDelayMs: 1, jitter: 0 }, trace: (t) => void (t.kind === "conflict" && delays.push(t.delayMs)) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConcurrencyError);
    expect((e as ConcurrencyError).attempts).toBe(5);
    expect(delays).toEqual([1, 2, 4, 8]);
    const jittered: number[] = [];
    await execute(counting, command, { retry: { maxRetries: 1 }, trace: (t) => void (t.kind === "conflict" && jittered.push(t.delayMs)) }).catch(() => {});
    expect(jittered.length).toBe(1);
    expect(jittered[0]!).toBeGreaterThanOrEqual(8);
    expect(jittered[0]!).toBeLessThanOrEqual(12);
    expect(store.readStream("c").events.every((x) => x.type === "rival")).toBe(true);
  });

  test("bad options are InvalidArgument before anything is read", async () => {
    using tmp = new TempDir();
    using store = EventStore.open(tmp.path);
    const counting = new Counting(store);
    const command: Command<number> = { streams: ["c"], init: () => 0, apply: (s) => s, handle: () => [] };
    for (const opts of [{ maxStreams: 0 }, { retry: { maxRetries: -1 } }, { retry: { jitter: 2 } }, { trace: 5 }, "x"]) {
      expect(await execute(counting, command, opts as never).catch((x: unknown) => x)).toBeInstanceOf(InvalidArgument);
    }
    expect(counting.reads.size).toBe(0);
  });

  test("a store that is not one (a path, a number, null) is InvalidArgument", async () => {
    const command: Command<number> = { streams: ["c"], init: () => 0, apply: (s) => s, handle: () => [] };
    for (const store of ["/tmp/x", 5, null, { root: "/tmp/x" }]) {
      expect(await execute(store as never, command).catch((x: unknown) => x)).toBeInstanceOf(InvalidArgument);
    }
  });
});
