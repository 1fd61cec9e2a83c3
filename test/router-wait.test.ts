/**
 * StrategyRouter.wait / waitAsync: one wait for orders and discovery changes, woken by other
 * processes, quiet while idle; and the fan-in's blocking wait keeping its readers alive.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BusLayout, ClosedError, CorruptRecord, FanInReader, Queue, StrategyRouter, WaitPending, inspectQueue } from "../src/index.ts";
import { futexCalls } from "../src/ffi/futex.ts";
import { segmentPath } from "../src/queue/segment.ts";
import { recordLength } from "../src/queue/layout/index.ts";
import { createStrategy } from "./helpers/bus.ts";
import { createQueue } from "./helpers/queue.ts";
import { HANG_MS, eventually, settled, within } from "./helpers/async.ts";
import { spawnFixture, type Child } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

/** Per-test limit, above HANG_MS so a hang fails through `within` and the children get killed. */
const TEST_MS = 40_000;
/** No periodic rescan: only the inotify watches (or an order) can end a wait. */
const NO_RESCAN = { discovery: { rescanIntervalMs: 3_600_000 } };

const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** A router-strategy child (see test/fixtures/router-strategy.ts). */
function strategy(root: string, id: string, readyAfterMs = 0): Child {
  return spawnFixture("router-strategy.ts", [root, id, String(readyAfterMs)]);
}

/** Syncs `router` until `id` is attached (bounded). */
async function attached(router: StrategyRouter, id: string): Promise<void> {
  const got = await eventually(() => (router.sync(), router.strategies), (s) => s.includes(id), HANG_MS);
  expect(got).toContain(id);
}

/** Counts the router's discovery checks: the wait makes one before each sleep and one after each wake-up. */
function countChecks(router: StrategyRouter): { readonly n: number } {
  const counter = { n: 0 };
  const check = router.discovery.hasChanges.bind(router.discovery);
  router.discovery.hasChanges = () => (counter.n++, check());
  return counter;
}

describe("StrategyRouter.wait (blocking)", () => {
  test("returns true when a strategy in another process becomes READY; sync() then attaches it", async () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    expect(router.sync()).toEqual([]);
    // READY comes 300 ms after the child starts: the wait is asleep by then.
    await using child = strategy(tmp.path, "alpha", 300);
    expect(router.wait(HANG_MS)).toBe(true);
    expect(router.sync().map((e) => `${e.kind} ${e.strategy}`)).toEqual(["added alpha"]);
    expect(router.strategies).toEqual(["alpha"]);
    expect(await within(child.line(), "strategy ready")).toBe("ready");
  }, TEST_MS);

  test("returns true when an attached strategy in another process appends an order", async () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    await using child = strategy(tmp.path, "alpha");
    expect(await within(child.line(), "strategy ready")).toBe("ready");
    await attached(router, "alpha");
    expect(router.next()).toBeNull();
    child.kill("SIGUSR1");
    expect(router.wait(HANG_MS)).toBe(true);
    const m = router.next()!;
    expect([m.strategy, decode(m.message.payload)]).toEqual(["alpha", "order from alpha"]);
    expect(router.next()).toBeNull();
    expect(await within(child.line(), "strategy append")).toBe("appended 0");
  }, TEST_MS);

  test("times out with false when nothing happens", () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    router.sync();
    expect(router.wait(50)).toBe(false);
    expect(router.wait(0)).toBe(false);
  });
});

describe("StrategyRouter.waitAsync", () => {
  test("resolves true when a strategy in another process becomes READY, with the event loop free meanwhile", async () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    expect(router.sync()).toEqual([]);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      const woke = router.waitAsync(HANG_MS);
      await using child = strategy(tmp.path, "beta", 300);
      expect(await within(woke, "waitAsync for READY")).toBe(true);
      expect(router.sync().map((e) => `${e.kind} ${e.strategy}`)).toEqual(["added beta"]);
      expect(ticks).toBeGreaterThan(0);
      expect(await within(child.line(), "strategy ready")).toBe("ready");
    } finally {
      clearInterval(ticker);
    }
  }, TEST_MS);

  test("resolves true when an attached strategy in another process appends an order", async () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    await using child = strategy(tmp.path, "beta");
    expect(await within(child.line(), "strategy ready")).toBe("ready");
    await attached(router, "beta");
    const woke = router.waitAsync(HANG_MS);
    child.kill("SIGUSR1");
    expect(await within(woke, "waitAsync for an order")).toBe(true);
    expect(decode(router.next()!.message.payload)).toBe("order from beta");
    expect(await within(child.line(), "strategy append")).toBe("appended 0");
  }, TEST_MS);

  test("rejects with the CorruptRecord a check meets, instead of resolving", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    const ordersOut = createStrategy(layout, "gamma", false);
    const payload = new TextEncoder().encode("first");
    {
      using writer = Queue.openPublisher(ordersOut);
      writer.append(2, payload);
    }
    createStrategy(layout, "gamma");
    await attached(router, "gamma");
    const first = router.next()!;
    const { segment, offset } = first.message;
    const pending = settled(router.waitAsync(HANG_MS));
    // An impossible commit word where the next record goes, then a discovery event to wake the wait.
    const fd = openSync(segmentPath(ordersOut, segment), "r+");
    try {
      writeSync(fd, new Uint8Array(new Int32Array([0x7ffffff0]).buffer), 0, 4, offset + recordLength(payload.length));
    } finally {
      closeSync(fd);
    }
    createQueue(join(layout.strategiesDir, "nudge", "orders_out"));
    const error = await within(pending, "waitAsync over a corrupt record");
    expect(error).toBeInstanceOf(CorruptRecord);
    expect((error as CorruptRecord).code).toBe("CORRUPT_RECORD");
  }, TEST_MS);

  test("rejects with ClosedError when a strategy's reader or the fan-in is closed under it; an abort rejects with the caller's reason", async () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    createStrategy(new BusLayout(tmp.path), "delta");
    await attached(router, "delta");
    while (router.next() !== null);

    const reason = new Error("stop");
    const ac = new AbortController();
    const aborted = settled(router.waitAsync(HANG_MS, ac.signal));
    await Bun.sleep(30);
    ac.abort(reason);
    expect(await within(aborted, "aborted waitAsync")).toBe(reason);

    const doomed = settled(router.waitAsync(HANG_MS));
    await Bun.sleep(30);
    router.fanIn.reader(router.fanIn.sourceIds[0]!)!.close();
    expect(await within(doomed, "waitAsync over a closed reader")).toBeInstanceOf(ClosedError);

    // The fan-in itself closed under a wait, with no source whose closing could wake it.
    using empty = new StrategyRouter(tmp.join("empty"), "router", NO_RESCAN);
    const orphaned = settled(empty.waitAsync(Infinity));
    await Bun.sleep(30);
    empty.fanIn.close();
    expect(await within(orphaned, "waitAsync over a closed fan-in")).toBeInstanceOf(ClosedError);
  }, TEST_MS);

  test("a second waitAsync while one is pending is WaitPending, naming the router or the fan-in", async () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    const first = router.waitAsync(HANG_MS);
    const second = await settled(router.waitAsync(HANG_MS));
    expect(second).toBeInstanceOf(WaitPending);
    expect((second as WaitPending).code).toBe("WAIT_PENDING");
    expect((second as WaitPending).message).toContain("router");

    const fan = new FanInReader();
    const fanFirst = fan.waitAsync({ timeoutMs: HANG_MS });
    const fanSecond = await settled(fan.waitAsync({ timeoutMs: HANG_MS }));
    expect(fanSecond).toBeInstanceOf(WaitPending);
    expect((fanSecond as WaitPending).message).toContain("fan-in");

    // close() ends a pending wait with false.
    router.close();
    fan.close();
    expect(await within(first, "router wait across close")).toBe(false);
    expect(await within(fanFirst, "fan-in wait across close")).toBe(false);
  }, TEST_MS);
});

describe("an idle router wait wakes up only for the rescan (and heartbeats)", () => {
  test("blocking, no strategies, no rescan due: one sleep for the whole timeout", () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    router.sync();
    const checks = countChecks(router);
    const sleeps = futexCalls.wait;
    expect(router.wait(1500)).toBe(false);
    // 100 ms sleep slices would make 15 of each.
    expect(futexCalls.wait - sleeps).toBe(1);
    expect(checks.n).toBe(2);
  });

  test("async, no strategies, no rescan due: one sleep for the whole timeout", async () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    router.sync();
    const checks = countChecks(router);
    expect(await within(router.waitAsync(1500), "idle waitAsync")).toBe(false);
    expect(checks.n).toBe(2);
  }, TEST_MS);

  test("the rescan period is the only periodic wake-up", () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", { discovery: { rescanIntervalMs: 500 } });
    router.sync();
    const checks = countChecks(router);
    expect(router.wait(2000)).toBe(false);
    // About one per 500 ms rescan (a late wake-up only makes fewer); 100 ms slices would make 20.
    expect(checks.n).toBeLessThanOrEqual(2000 / 500 + 2);
  });

  test("with a strategy attached, it wakes only to refresh the reader's heartbeat, once a second", async () => {
    using tmp = new TempDir();
    using router = new StrategyRouter(tmp.path, "router", NO_RESCAN);
    createStrategy(new BusLayout(tmp.path), "quiet");
    await attached(router, "quiet");
    while (router.next() !== null);
    const checks = countChecks(router);
    expect(router.wait(2500)).toBe(false);
    // About one per second; 100 ms slices would make 25.
    expect(checks.n).toBeLessThanOrEqual(2500 / 1000 + 3);
  }, TEST_MS);
});

describe("FanInReader.wait", () => {
  test("refreshes its readers' heartbeats during a long idle wait in another process", async () => {
    using tmp = new TempDir();
    const dirs = ["q0", "q1"].map((q) => createQueue(tmp.join(q)));
    await using child = spawnFixture("fanin-idle.ts", ["6000", ...dirs]);
    expect(await within(child.line(), "fan-in waiting")).toBe("waiting");
    /** When each queue's "idle" reader last refreshed its heartbeat (wall-clock ms). */
    const beats = (): number[] => dirs.map((d) => {
      const r = inspectQueue(d).readers.find((x) => x.name === "idle")!;
      return Date.now() - r.heartbeatAgeMs;
    });
    const start = beats();
    // The child is blocked in wait() all along: only the wait itself can move the heartbeats.
    const later = await eventually(beats, (b) => b.every((t, i) => t > start[i]! + 500), HANG_MS, 100);
    expect(later.every((t, i) => t > start[i]! + 500)).toBe(true);
    expect(await within(child.line(), "fan-in result")).toBe("result false");
  }, TEST_MS);
});
