import { describe, expect, test } from "bun:test";
import { ChronicleError, FanInReader, InvalidArgument, Queue, inspectQueue, type QueueWriter } from "../src/index.ts";
import { futexCalls } from "../src/ffi/futex.ts";
import { RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE } from "../src/queue/layout/index.ts";
import { spawnFixture, together, type Child } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";
import { createQueue } from "./helpers/queue.ts";
import { HANG_MS, settled, within } from "./helpers/async.ts";

/** Per-test limit, above HANG_MS so a hang fails through `within` and the children get killed. */
const TEST_MS = 40_000;
const SEGMENT = 1 << 20;

/** Resolves once `n` readers are registered as sleepers (v2 waiters_pending), i.e. about to sleep or asleep. */
async function sleepers(dir: string, n: number): Promise<void> {
  const pending = (): number | null => inspectQueue(dir).waitersPending;
  const deadline = performance.now() + HANG_MS;
  while (pending() !== n) {
    if (performance.now() > deadline) throw new Error(`waiters_pending is ${pending()}, expected ${n}`);
    await Bun.sleep(2);
  }
}

interface WaitResult {
  ready: boolean;
  elapsedMs: number;
  seq: number;
  segment: number;
  length: number;
  writerAlive: boolean;
}

/** The next "result" line of a wait-reader child. */
async function result(child: Child): Promise<WaitResult> {
  const line = await within(child.find((l) => l.startsWith("result ")), "reader result");
  const [, ready, elapsed, seq, segment, length, alive] = line.split(" ");
  return {
    ready: ready === "true",
    elapsedMs: Number(elapsed),
    seq: seq === "-" ? -1 : Number(seq),
    segment: segment === "-" ? -1 : Number(segment),
    length: length === "-" ? -1 : Number(length),
    writerAlive: alive === "true",
  };
}

/** The next "got" line of a wait-reader child in "iter" mode: [seq, segment, length]. */
async function got(child: Child): Promise<number[]> {
  const line = await within(child.find((l) => l.startsWith("got ")), "iterator record");
  return line.split(" ").slice(1).map(Number);
}

type Mode = "hybrid" | "spin" | "async" | "iter";

/** Starts a wait-reader child (see test/fixtures/wait-reader.ts). */
function reader(dir: string, name: string, mode: Mode, plan: string): Child {
  return spawnFixture("wait-reader.ts", [dir, name, mode, plan]);
}

/**
 * One wait-reader child per mode, each after one record: "iter" takes one, the wait modes wait
 * once with timeout `plan`. Reader i is named `name(i)`. Disposed of together.
 */
function readers(dir: string, modes: readonly Mode[], plan = "inf", name = (i: number): string => `r${i}`): Child[] & AsyncDisposable {
  return together(modes.map((mode, i) => reader(dir, name(i), mode, mode === "iter" ? "1" : plan)));
}

/** The records (seq, segment, length) the children of `readers(dir, modes)` report after waking. */
function allWoken(children: Child[], modes: readonly Mode[]): Promise<number[][]> {
  return Promise.all(children.map((c, i) => woken(c, modes[i]!)));
}

/** The record (seq, segment, length) a child reports after waking, whatever its mode. */
async function woken(child: Child, mode: string): Promise<number[]> {
  if (mode === "iter") return got(child);
  const r = await result(child);
  expect(r.ready).toBe(true);
  return [r.seq, r.segment, r.length];
}

function payload(length: number): Uint8Array {
  return new Uint8Array(length).fill(0xa5);
}

/** FUTEX_WAKE calls this process makes while `fn` runs. */
function wakesDuring(fn: () => unknown): number {
  const before = futexCalls.wake;
  fn();
  return futexCalls.wake - before;
}

describe("a sleeping reader wakes when another process appends", () => {
  for (const mode of ["hybrid", "async", "iter"] as const) {
    test(`${mode === "iter" ? "for await" : mode === "async" ? "waitAsync" : "wait"} in a child process`, async () => {
      using tmp = new TempDir();
      using writer = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
      await using child = reader(tmp.path, "r", mode, mode === "iter" ? "3" : "inf,inf,inf");
      // Three rounds, each appended only once the reader is asleep again, so every record needs a wake-up.
      for (let seq = 0; seq < 3; seq++) {
        await sleepers(tmp.path, 1);
        expect(writer.append(1, payload(10 + seq))).toBe(seq);
        expect(await woken(child, mode)).toEqual([seq, writer.currentSegment, 10 + seq]);
      }
      expect((await within(child.exit(), "reader exit")).code).toBe(0);
      await sleepers(tmp.path, 0);
    }, TEST_MS);
  }

  test("at least 8 readers in separate processes, sync and async mixed, all wake for one append", async () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
    const modes = ["hybrid", "async", "iter", "hybrid", "async", "iter", "hybrid", "async", "hybrid"] as const;
    await using children = readers(tmp.path, modes);
    await sleepers(tmp.path, modes.length);
    // One FUTEX_WAKE reaches every sleeper of the queue.
    expect(wakesDuring(() => writer.append(3, payload(64)))).toBe(1);
    expect(await allWoken(children, modes)).toEqual(modes.map(() => [0, 0, 64]));
    for (const c of children) expect((await within(c.exit(), "reader exit")).code).toBe(0);
  }, TEST_MS);
});

describe("timeouts", () => {
  test("wait, waitAsync and a spin wait return false once their timeout has passed with no data", async () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
    using hybrid = Queue.openSubscriber(tmp.path, "hybrid");
    using spin = Queue.openSubscriber(tmp.path, "spin", { wait: { strategy: "spin" } });
    for (const [label, wait] of [
      ["wait", () => Promise.resolve(hybrid.wait(300))],
      ["waitAsync", () => hybrid.waitAsync({ timeoutMs: 300 })],
      ["spin", () => Promise.resolve(spin.wait(300))],
    ] as const) {
      const start = performance.now();
      expect(await within(wait(), label)).toBe(false);
      // Never early; the upper bound is only "did not hang" (within).
      expect(performance.now() - start).toBeGreaterThanOrEqual(295);
    }
    expect(hybrid.wait(0)).toBe(false);
    expect(await hybrid.waitAsync({ timeoutMs: 0 })).toBe(false);
    await sleepers(tmp.path, 0);
    writer.append(1, payload(1));
    expect(hybrid.wait(0)).toBe(true);
    expect(await hybrid.waitAsync({ timeoutMs: 0 })).toBe(true);
  }, TEST_MS);
});

describe("a record in a new segment wakes waiters (FORMAT.md defect 4)", () => {
  const SMALL = 65536;
  // Segments of 64 KiB: a 30,000-byte record leaves too little room for a 40,000-byte one, and a
  // 65,408-byte record (the largest) fills segment 0 exactly, leaving the readers at its very end.
  for (const [label, first, second] of [
    ["reader mid-segment, next record does not fit", 30_000, 40_000],
    ["reader at the exact end of a full segment", SMALL - SEGMENT_HEADER_SIZE - RECORD_HEADER_SIZE, 100],
  ] as const) {
    test(label, async () => {
      using tmp = new TempDir();
      using writer = Queue.openPublisher(tmp.path, { segmentSize: SMALL });
      writer.append(1, payload(first));
      expect(writer.currentSegment).toBe(0);
      const modes = ["hybrid", "async", "iter"] as const;
      await using children = readers(tmp.path, modes);
      await sleepers(tmp.path, modes.length);
      writer.append(2, payload(second));
      expect(writer.currentSegment).toBe(1);
      expect(await allWoken(children, modes)).toEqual(modes.map(() => [1, 1, second]));
    }, TEST_MS);
  }
});

describe("a dead writer never leaves a reader hung", () => {
  test("writer SIGKILLed during the wait: the waits end by their timeout and see the writer dead; the next writer wakes a wait with no timeout", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    await using first = spawnFixture("wait-writer.ts", [tmp.path, "0", "-", "hang"]);
    expect(await within(first.line(), "writer ready")).toBe("ready");
    await using sync = reader(tmp.path, "sync", "hybrid", "2500,inf");
    await using async = reader(tmp.path, "async", "async", "2500,inf");
    await sleepers(tmp.path, 2);
    await first.killAndWait();
    for (const child of [sync, async]) {
      const r = await result(child);
      expect(r.ready).toBe(false);
      expect(r.elapsedMs).toBeGreaterThanOrEqual(2490);
      expect(r.writerAlive).toBe(false);
    }
    // Both are now waiting without a timeout; a new writer's append must reach them.
    await using second = spawnFixture("wait-writer.ts", [tmp.path, "2", "33", "exit"]);
    for (const child of [sync, async]) {
      const r = await result(child);
      expect([r.ready, r.seq, r.length]).toEqual([true, 0, 33]);
    }
    expect((await within(second.exit(), "writer exit")).code).toBe(0);
  }, TEST_MS);

  test("writer killed between its commit and its wake-up: readers waiting with no timeout still get the record", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    const modes = ["hybrid", "async", "iter"] as const;
    await using children = readers(tmp.path, modes);
    await using writer = spawnFixture("wait-writer.ts", [tmp.path, String(modes.length), "21", "nowake"]);
    await within(writer.until((l) => l === "appended 0"), "writer append");
    await writer.killAndWait();
    expect(await allWoken(children, modes)).toEqual(modes.map(() => [0, 0, 21]));
  }, TEST_MS);
});

describe("waitAsync and the event loop", () => {
  test("an AbortSignal cancels waitAsync promptly and frees the helper for the next wait", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    using r = Queue.openSubscriber(tmp.path, "r");
    const ac = new AbortController();
    const pending = r.waitAsync({ signal: ac.signal });
    await sleepers(tmp.path, 1);
    const reason = new Error("stop");
    ac.abort(reason);
    expect(await within(settled(pending), "aborted waitAsync")).toBe(reason);
    // The helper deregistered: no sleeper is left behind.
    await sleepers(tmp.path, 0);

    // A signal aborted before the call rejects at once, without starting a wait.
    expect(await within(settled(r.waitAsync({ signal: AbortSignal.abort(reason) })), "pre-aborted waitAsync")).toBe(reason);

    // A wait started right after an abort, before the helper has reported, queues behind it.
    const again = new AbortController();
    const cancelled = r.waitAsync({ signal: again.signal });
    again.abort(reason);
    const next = r.waitAsync({ timeoutMs: 50 });
    expect(await within(settled(cancelled), "second abort")).toBe(reason);
    expect(await within(next, "wait queued behind a cancelled one")).toBe(false);

    // The helper thread still serves waits: an append by another process resolves this one.
    const woke = r.waitAsync();
    await using writer = spawnFixture("wait-writer.ts", [tmp.path, "1", "5", "exit"]);
    expect(await within(woke, "waitAsync after aborts")).toBe(true);
    expect(r.next()?.seq).toBe(0);
    expect((await within(writer.exit(), "writer exit")).code).toBe(0);
  }, TEST_MS);

  test("close() during a pending waitAsync resolves it false and deregisters the sleeper", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    const r = Queue.openSubscriber(tmp.path, "r");
    const pending = r.waitAsync();
    await sleepers(tmp.path, 1);
    r.close();
    expect(await within(pending, "waitAsync across close")).toBe(false);
    await sleepers(tmp.path, 0);
  }, TEST_MS);

  test("timers keep running while waitAsync is pending", async () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
    using r = Queue.openSubscriber(tmp.path, "r");
    let ticks = 0;
    const interval = setInterval(() => ticks++, 10);
    try {
      expect(await within(r.waitAsync({ timeoutMs: 300 }), "waitAsync")).toBe(false);
      // About 30 at 10 ms; a blocked event loop would give 0 or 1.
      expect(ticks).toBeGreaterThanOrEqual(5);
    } finally {
      clearInterval(interval);
    }
    // With no timeout at all, only a timer callback can produce the record the wait is for.
    let fired = 0;
    const appender = setInterval(() => {
      if (++fired === 3) writer.append(1, payload(8));
    }, 10);
    try {
      expect(await within(r.waitAsync(), "waitAsync woken by a timer's append")).toBe(true);
      expect(fired).toBeGreaterThanOrEqual(3);
    } finally {
      clearInterval(appender);
    }
  }, TEST_MS);
});

describe("wake-up suppression: the append path's futex calls", () => {
  function appendMany(writer: QueueWriter, n: number): void {
    const p = payload(64);
    for (let i = 0; i < n; i++) writer.append(1, p);
  }

  test("format v2 with no sleeping reader: 10,000 appends (and a roll) make no futex call", () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
    // An open reader that does not wait does not count as a sleeper.
    using r = Queue.openSubscriber(tmp.path, "r");
    const { wake, wait } = futexCalls;
    appendMany(writer, 10_000);
    expect(futexCalls.wake - wake).toBe(0);
    expect(futexCalls.wait - wait).toBe(0);
    expect(writer.currentSegment).toBeGreaterThan(0);
    let n = 0;
    while (r.next() !== null) n++;
    expect(n).toBe(10_000);
  });

  test("format v2 with a reader asleep in another process: the append wakes it, and stops waking once it left", async () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
    await using child = reader(tmp.path, "r", "hybrid", "inf");
    await sleepers(tmp.path, 1);
    expect(wakesDuring(() => writer.append(1, payload(64)))).toBe(1);
    expect(await woken(child, "hybrid")).toEqual([0, 0, 64]);
    expect((await within(child.exit(), "reader exit")).code).toBe(0);
    await sleepers(tmp.path, 0);
    expect(wakesDuring(() => appendMany(writer, 1000))).toBe(0);
  }, TEST_MS);

  test("format v2, a reader SIGKILLed while asleep: after a few sleep slices of wake-ups that find nobody the writer stops waking, and a new sleeper still wakes", async () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT });
    const dead = reader(tmp.path, "dead", "hybrid", "inf");
    await sleepers(tmp.path, 1);
    dead.kill("SIGKILL");
    expect((await within(dead.exit(), "killed reader exit")).signal).toBe("SIGKILL");
    // Its registration outlives it.
    await sleepers(tmp.path, 1);

    expect(wakesDuring(() => writer.append(1, payload(64)))).toBe(1);
    // Keep appending for longer than the judging window (three 100 ms slices), paced.
    const until = performance.now() + 450;
    while (performance.now() < until) {
      writer.append(1, payload(64));
      await Bun.sleep(10);
    }
    expect(wakesDuring(() => appendMany(writer, 1000))).toBe(0);

    // A live sleeper registers on top of the stale one and is woken as usual.
    await using live = reader(tmp.path, "live", "hybrid", "inf");
    await sleepers(tmp.path, 2);
    let seq = -1;
    expect(wakesDuring(() => (seq = writer.append(1, payload(33))))).toBe(1);
    expect((await woken(live, "hybrid"))[0]).toBe(seq);
    expect((await within(live.exit(), "reader exit")).code).toBe(0);
    // Back to the stale registration only: no wake-ups.
    await sleepers(tmp.path, 1);
    expect(wakesDuring(() => appendMany(writer, 1000))).toBe(0);
  }, TEST_MS);

  test("format v1: every append wakes (v1 readers do not register), and a v1 reader in another process wakes", async () => {
    using tmp = new TempDir();
    using writer = Queue.openPublisher(tmp.path, { formatVersion: 1 });
    expect(wakesDuring(() => appendMany(writer, 1000))).toBe(1000);

    await using child = reader(tmp.path, "r", "hybrid", "inf");
    // v1 has no waiters_pending to watch; whether or not the reader is asleep yet, it must get the record.
    await within(child.until((l) => l === "waiting 0"), "reader start");
    await Bun.sleep(100);
    writer.append(1, payload(9));
    expect(await woken(child, "hybrid")).toEqual([1000, 0, 9]);
  }, TEST_MS);
});

describe("wait strategies", () => {
  test("busy-spin, hybrid, async and for-await readers each get a record appended by another process", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    const modes = ["spin", "hybrid", "async", "iter"] as const;
    await using children = readers(tmp.path, modes, "20000", (i) => modes[i]!);
    // The spinning reader never registers as a sleeper: wait until it has started its wait.
    await within(children[0]!.until((l) => l === "waiting 0"), "spin reader start");
    await using writer = spawnFixture("wait-writer.ts", [tmp.path, "3", "64", "exit"]);
    expect(await allWoken(children, modes)).toEqual(modes.map(() => [0, 0, 64]));
    expect((await within(writer.exit(), "writer exit")).code).toBe(0);
  }, TEST_MS);

  test("an unknown strategy is refused when the reader opens", () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    const open = () => Queue.openSubscriber(tmp.path, "r", { wait: { strategy: "async" as "spin" } });
    expect(open).toThrow(ChronicleError);
    expect(open).toThrow(/wait strategy/);
  });

  test("a spin window that is negative, not a number or infinite is refused", () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    for (const spinMicros of [-1, Number.NaN, Infinity, "10" as unknown as number]) {
      expect(() => Queue.openSubscriber(tmp.path, "r", { wait: { spinMicros } })).toThrow(InvalidArgument);
    }
    // 0 is valid: no spinning, not even in waitAsync.
    using reader = Queue.openSubscriber(tmp.path, "r", { wait: { spinMicros: 0 } });
    expect(reader.wait(0)).toBe(false);
  });

  test("a timeout that is not a number is InvalidArgument (sync and async, reader and fan-in); a negative one polls", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    using reader = Queue.openSubscriber(tmp.path, "r");
    using fan = new FanInReader();
    fan.addReader(Queue.openSubscriber(tmp.path, "f"));
    for (const bad of [Number.NaN, "5" as unknown as number]) {
      expect(() => reader.wait(bad)).toThrow(InvalidArgument);
      expect(await settled(reader.waitAsync({ timeoutMs: bad }))).toBeInstanceOf(InvalidArgument);
      expect(() => fan.wait(bad)).toThrow(InvalidArgument);
      expect(await settled(fan.waitAsync({ timeoutMs: bad }))).toBeInstanceOf(InvalidArgument);
    }
    expect(reader.wait(-5)).toBe(false);
    expect(await reader.waitAsync({ timeoutMs: -5 })).toBe(false);
    expect(fan.wait(-5)).toBe(false);
    expect(await fan.waitAsync({ timeoutMs: -5 })).toBe(false);
  });

  test("waitAsync refuses a bad per-call spin window with a rejected promise, and honours a valid one", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { segmentSize: SEGMENT });
    using reader = Queue.openSubscriber(tmp.path, "r");
    expect(await settled(reader.waitAsync({ timeoutMs: 0, spinMicros: -5 }))).toBeInstanceOf(InvalidArgument);
    expect(await reader.waitAsync({ timeoutMs: 0, spinMicros: 0 })).toBe(false);
    expect(await reader.waitAsync({ timeoutMs: 1, spinMicros: 50 })).toBe(false);
  });
});
