/**
 * What plain JavaScript callers can pass that the types rule out: every public function and
 * constructor either throws InvalidArgument naming the argument, or works as documented; none
 * hangs or crashes with a TypeError.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  BusLayout, FanInReader, InvalidArgument, Queue, QueueReader, QueueWriter, ReaderRegistration, RouterDiscovery, StrategyRouter,
  inspectQueue, isLeaseStale, isQueueDirectory, markReady, readLease, readerStatuses, readyVersion, writeLease,
} from "../src/index.ts";
import { TempDir } from "./helpers/tmp.ts";

/** A "did not hang" bound, far above what any of these calls takes. */
const NO_HANG_MS = 10_000;
/** Stands for every options argument of the wrong kind. */
const NOT_OPTIONS: unknown[] = [5, "yes", null, [], true];

// Casts in one place: these calls are what the types forbid.
type Any = any;

let tmp: TempDir;
let dir: string;
let root: string;
let writer: QueueWriter;
let reader: QueueReader;

beforeAll(() => {
  tmp = new TempDir();
  dir = tmp.join("q");
  root = tmp.join("bus");
  writer = Queue.openPublisher(dir, { segmentSize: 65536, preallocate: false });
  reader = Queue.openSubscriber(dir, "r");
});

afterAll(() => {
  reader.close();
  writer.close();
  tmp[Symbol.dispose]();
});

/** Resolves with what `call` throws or rejects with; fails the test if it returns or hangs. */
async function failure(call: () => unknown): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<"hang">((resolve) => (timer = setTimeout(() => resolve("hang"), NO_HANG_MS)));
  try {
    const outcome = await Promise.race([(async () => call())().then(() => "returned" as const, (e: unknown) => ({ e })), hang]);
    if (outcome === "hang" || outcome === "returned") throw new Error(`expected InvalidArgument, but the call ${outcome === "hang" ? "hung" : "returned"}`);
    return outcome.e;
  } finally {
    clearTimeout(timer);
  }
}

/** [what is called, the call, a word the message must contain (the argument's name)]. */
type Case = [string, () => unknown, string];

const cases = (): Case[] => [
  // Options objects of the wrong kind.
  ...NOT_OPTIONS.flatMap((o): Case[] => [
    [`openPublisher options ${JSON.stringify(o)}`, () => Queue.openPublisher(dir, o as Any), "writer options"],
    [`openSubscriber options ${JSON.stringify(o)}`, () => Queue.openSubscriber(dir, "x", o as Any), "reader options"],
    [`openAnonymous options ${JSON.stringify(o)}`, () => Queue.openAnonymous(dir, o as Any), "reader options"],
    [`ReaderRegistration options ${JSON.stringify(o)}`, () => new ReaderRegistration(dir, "x", o as Any), "reader options"],
    [`FanInReader options ${JSON.stringify(o)}`, () => new FanInReader(o as Any), "fan-in options"],
    [`RouterDiscovery options ${JSON.stringify(o)}`, () => new RouterDiscovery(root, o as Any), "discovery options"],
    [`StrategyRouter options ${JSON.stringify(o)}`, () => new StrategyRouter(root, "router", o as Any), "router options"],
    [`inspectQueue policy ${JSON.stringify(o)}`, () => inspectQueue(dir, o as Any), "retention policy"],
    [`readerStatuses head ${JSON.stringify(o)}`, () => readerStatuses(dir, o as Any, { readerTtlMs: 1, maxReaderLagBytes: 1 }), "head"],
    [`writeLease lease ${JSON.stringify(o)}`, () => writeLease(tmp.path, o as Any), "lease"],
    [`isLeaseStale lease ${JSON.stringify(o)}`, () => isLeaseStale(o as Any, 1000), "lease"],
  ]),
  ...["yes", null, [], true].map((o): Case => [`reader.waitAsync(${JSON.stringify(o)})`, () => reader.waitAsync(o as Any), "waitAsync options"]),
  ["reader option wait: 5", () => Queue.openSubscriber(dir, "x", { wait: 5 as Any }), "wait options"],
  ["StrategyRouter option reader: 5", () => new StrategyRouter(root, "router", { reader: 5 as Any }), "reader options"],
  ["StrategyRouter option writer: null", () => new StrategyRouter(root, "router", { writer: null as Any }), "writer options"],
  ["StrategyRouter option discovery: []", () => new StrategyRouter(root, "router", { discovery: [] as Any }), "discovery options"],
  ["writer option backpressure: 5", () => Queue.openPublisher(dir, { backpressure: 5 as Any }), "backpressure"],
  // Known keys of the wrong type.
  ["writer option preallocate: \"no\"", () => Queue.openPublisher(dir, { preallocate: "no" as Any }), "preallocate"],
  ["writer option autoCleanup: 1", () => Queue.openPublisher(dir, { autoCleanup: 1 as Any }), "autoCleanup"],
  ["writer option maxSegments: 2.5", () => Queue.openPublisher(dir, { maxSegments: 2.5 }), "maxSegments"],
  ["writer option backpressure.timeoutMs: \"1\"", () => Queue.openPublisher(dir, { backpressure: { timeoutMs: "1" as Any } }), "backpressure.timeoutMs"],
  ["reader option verifyCrc: \"no\"", () => Queue.openSubscriber(dir, "x", { verifyCrc: "no" as Any }), "verifyCrc"],
  ["reader option openTimeoutMs: NaN", () => Queue.openSubscriber(dir, "x", { openTimeoutMs: Number.NaN }), "openTimeoutMs"],
  ["reader option openTimeoutMs: \"100\"", () => Queue.openAnonymous(dir, { openTimeoutMs: "100" as Any }), "openTimeoutMs"],
  ["reader option wait.strategy: \"sleep\"", () => Queue.openSubscriber(dir, "x", { wait: { strategy: "sleep" as Any } }), "strategy"],
  ["reader option wait.spinMicros: -1", () => Queue.openSubscriber(dir, "x", { wait: { spinMicros: -1 } }), "spinMicros"],
  ["StrategyRouter option reader.verifyCrc: 0", () => new StrategyRouter(root, "router", { reader: { verifyCrc: 0 as Any } }), "verifyCrc"],
  ["StrategyRouter option writer.segmentSize: 3", () => new StrategyRouter(root, "router", { writer: { segmentSize: 3 } }), "segmentSize"],
  ["RouterDiscovery option rescanIntervalMs: NaN", () => new RouterDiscovery(root, { rescanIntervalMs: Number.NaN }), "rescanIntervalMs"],
  ["RouterDiscovery option supportedVersion: 1.5", () => new RouterDiscovery(root, { supportedVersion: 1.5 }), "supportedVersion"],
  ["FanInReader option spinMicros: \"5\"", () => new FanInReader({ spinMicros: "5" as Any }), "spinMicros"],
  ["reader.waitAsync timeoutMs: \"100\"", () => reader.waitAsync({ timeoutMs: "100" as Any }), "timeoutMs"],
  ["reader.waitAsync(NaN)", () => reader.waitAsync(Number.NaN), "timeoutMs"],
  ["reader.waitAsync signal: {}", () => reader.waitAsync({ timeoutMs: 10, signal: {} as Any }), "signal"],
  ["reader.waitAsync spinMicros: Infinity", () => reader.waitAsync({ timeoutMs: 10, spinMicros: Infinity }), "spinMicros"],
  ["reader.wait(\"100\")", () => reader.wait("100" as Any), "timeoutMs"],
  ["reader.wait({ timeoutMs: 100 })", () => reader.wait({ timeoutMs: 100 } as Any), "timeoutMs"],
  ["inspectQueue policy.readerTtlMs: \"1\"", () => inspectQueue(dir, { readerTtlMs: "1" as Any }), "readerTtlMs"],
  ["inspectQueue openTimeoutMs: NaN", () => inspectQueue(dir, {}, Number.NaN), "openTimeoutMs"],
  ["readerStatuses head.offset missing", () => readerStatuses(dir, { segment: 0, segmentSize: 65536 } as Any, { readerTtlMs: 1, maxReaderLagBytes: 1 }), "head.offset"],
  ["readerStatuses policy.maxReaderLagBytes: -1", () => readerStatuses(dir, { segment: 0, offset: 64, segmentSize: 65536 }, { readerTtlMs: 1, maxReaderLagBytes: -1 }), "maxReaderLagBytes"],
  ["writeLease lease.epoch missing", () => writeLease(tmp.path, {} as Any), "lease.epoch"],
  ["writeLease lease.pid: -1", () => writeLease(tmp.path, { epoch: 1, pid: -1 }), "lease.pid"],
  ["writeLease lease.timestampNs: 5", () => writeLease(tmp.path, { epoch: 1, timestampNs: 5 as Any }), "lease.timestampNs"],
  ["isLeaseStale ttlMs: \"1\"", () => isLeaseStale({ pid: 1, epoch: 1, timestampNs: 0n }, "1" as Any), "ttlMs"],
  ["isLeaseStale nowNs: 5", () => isLeaseStale({ pid: 1, epoch: 1, timestampNs: 0n }, 1, 5 as Any), "nowNs"],
  // Paths, names, handlers and counts.
  ["markReady(5)", () => markReady(5 as Any), "endpoint directory"],
  ["markReady version NaN", () => markReady(tmp.path, Number.NaN), "version"],
  ["readyVersion(null)", () => readyVersion(null as Any), "endpoint directory"],
  ["readLease(undefined)", () => readLease(undefined as Any), "endpoint directory"],
  ["inspectQueue(5)", () => inspectQueue(5 as Any), "queue directory"],
  ["isQueueDirectory(5)", () => isQueueDirectory(5 as Any), "queue directory"],
  ["readerStatuses(null, ...)", () => readerStatuses(null as Any, { segment: 0, offset: 64, segmentSize: 65536 }, { readerTtlMs: 1, maxReaderLagBytes: 1 }), "queue directory"],
  ["new BusLayout(null)", () => new BusLayout(null as Any), "bus root"],
  ["new RouterDiscovery(null)", () => new RouterDiscovery(null as Any), "bus root"],
  ["new StrategyRouter(null, ...)", () => new StrategyRouter(null as Any, "router"), "bus root"],
  ["new StrategyRouter(root, 5)", () => new StrategyRouter(root, 5 as Any), "reader name"],
  ["BusLayout.strategyEndpoints(5)", () => new BusLayout(root).strategyEndpoints(5 as Any), "strategy id"],
  ["openPublisher(null)", () => Queue.openPublisher(null as Any), "queue directory"],
  ["openSubscriber(dir, 5)", () => Queue.openSubscriber(dir, 5 as Any), "reader name"],
  ["reader.poll(\"f\")", () => reader.poll("f" as Any), "handler"],
  ["reader.poll(f, NaN)", () => reader.poll(() => {}, Number.NaN), "limit"],
  ["reader.poll(f, -1)", () => reader.poll(() => {}, -1), "limit"],
  ["reader.poll(f, 1.5)", () => reader.poll(() => {}, 1.5), "limit"],
  ["reader.commitAt(NaN, 64)", () => reader.commitAt(Number.NaN, 64), "commitAt"],
  ["reader.commitAt(0, 65)", () => reader.commitAt(0, 65), "commitAt"],
  ["reader.commitAt(-1, 64)", () => reader.commitAt(-1, 64), "commitAt"],
  ["writer.append(\"1\", ...)", () => writer.append("1" as Any, new Uint8Array(1)), "typeId"],
  ["writer.append(1, \"x\")", () => writer.append(1, "x" as Any), "payload"],
  ["writer.append(1, payload, 5)", () => writer.append(1, new Uint8Array(1), 5 as Any), "timestampNs"],
  ["writer.claimAt(1, NaN)", () => writer.claimAt(1, Number.NaN), "length"],
  ["writer.claim(1, -1)", () => writer.claim(1, -1), "length"],
];

describe("misuse from plain JavaScript is an InvalidArgument naming the argument", () => {
  for (const [what, call, names] of cases()) {
    test(what, async () => {
      const e = await failure(call);
      expect(e).toBeInstanceOf(InvalidArgument);
      expect((e as InvalidArgument).code).toBe("INVALID_ARGUMENT");
      expect((e as Error).message).toContain(names);
    });
  }
});

describe("fan-in and router misuse", () => {
  test("fan-in: waitAsync with a wrong-typed option, a non-function poll handler, a bad limit", async () => {
    using fan = new FanInReader();
    for (const call of [() => fan.waitAsync({ signal: "s" as Any }), () => fan.waitAsync(null as Any), () => fan.poll(5 as Any), () => fan.poll(() => {}, -2), () => fan.wait({} as Any), () => fan.addReader({} as Any)]) {
      expect(await failure(call)).toBeInstanceOf(InvalidArgument);
    }
  });

  test("router: waitAsync with a wrong-typed timeout or signal, reply and commit with a non-string strategy", async () => {
    using router = new StrategyRouter(root, "router");
    for (const call of [() => router.waitAsync("1" as Any), () => router.waitAsync(10, {} as Any), () => router.waitAsync({ timeoutMs: Number.NaN }), () => router.poll(null as Any), () => router.reply(5 as Any, 1, new Uint8Array(1)), () => router.commit(null as Any)]) {
      expect(await failure(call)).toBeInstanceOf(InvalidArgument);
    }
  });
});

describe("a number where waitAsync takes options is the timeout", () => {
  test("reader.waitAsync(100) on an idle queue resolves false at the timeout", async () => {
    expect(await reader.waitAsync(100)).toBe(false);
  });

  test("reader.waitAsync(100) resolves true for a record", async () => {
    using r = Queue.openAnonymous(dir, { start: "latest" });
    writer.append(1, new Uint8Array(4));
    expect(await r.waitAsync(100)).toBe(true);
  });

  test("fanIn.waitAsync(50) resolves false at the timeout", async () => {
    using fan = new FanInReader();
    fan.addReader(Queue.openAnonymous(dir, { start: "latest" }));
    expect(await fan.waitAsync(50)).toBe(false);
  });

  test("router.waitAsync({ timeoutMs: 50 }) is the same as router.waitAsync(50)", async () => {
    using router = new StrategyRouter(root, "router");
    expect(await router.waitAsync({ timeoutMs: 50 })).toBe(false);
    expect(await router.waitAsync(50)).toBe(false);
  });

  test("unknown option keys are ignored", async () => {
    using r = Queue.openAnonymous(dir, { start: "latest", colour: "blue" } as Any);
    expect(await r.waitAsync({ timeoutMs: 10, colour: "blue" } as Any)).toBe(false);
  });
});
