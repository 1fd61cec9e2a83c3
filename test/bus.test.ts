import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  BusLayout, InvalidArgument, LEASE_FILE, Queue, READY_FILE, ReaderRegistration, RouterDiscovery, StrategyRouter,
  SUPPORTED_READY_VERSION, isLeaseStale, markReady, readLease, readyVersion, writeLease, type DiscoveryEvent,
} from "../src/index.ts";
import { readerMetaPath } from "../src/queue/readerMeta.ts";
import { createStrategy } from "./helpers/bus.ts";
import { fdCount, fdsUnder, mapsUnder } from "./helpers/procfs.ts";
import { collectUntil, eventually } from "./helpers/async.ts";
import { createQueue } from "./helpers/queue.ts";
import { runToEnd, spawnFixture } from "./helpers/spawn.ts";
import { removeTree, TempDir } from "./helpers/tmp.ts";

const REPO = resolve(import.meta.dir, "..");

const summary = (events: DiscoveryEvent[]): string[] => events.map((e) => `${e.kind} ${e.strategy}`);

describe("READY and LEASE markers", () => {
  test("markReady refuses a version that is not an integer >= 1, and a StrategyRouter a reader name that could escape", () => {
    using tmp = new TempDir();
    for (const bad of [0, -1, 1.5, Number.NaN, "2" as unknown as number]) {
      expect(() => markReady(tmp.path, bad)).toThrow(InvalidArgument);
    }
    expect(readyVersion(tmp.path)).toBeNull();
    for (const bad of ["", "..", "a/b", "x\0y"]) {
      expect(() => new StrategyRouter(tmp.path, bad)).toThrow(InvalidArgument);
    }
  });

  test("markReady/readyVersion: absent, written atomically, explicit versions, empty, garbage, not a file", () => {
    using tmp = new TempDir();
    const dir = tmp.join("orders_out");
    mkdirSync(dir);
    expect(readyVersion(dir)).toBeNull();
    expect(readyVersion(tmp.join("missing"))).toBeNull();

    markReady(dir);
    expect(readFileSync(join(dir, READY_FILE), "utf8")).toBe(`version=${SUPPORTED_READY_VERSION}\n`);
    expect(readyVersion(dir)).toBe(SUPPORTED_READY_VERSION);
    expect(readdirSync(dir)).toEqual([READY_FILE]);
    markReady(dir, 7);
    expect(readyVersion(dir)).toBe(7);

    writeFileSync(join(dir, READY_FILE), "");
    expect(readyVersion(dir)).toBe(1);
    writeFileSync(join(dir, READY_FILE), "nonsense\n");
    expect(readyVersion(dir)).toBeNaN();

    rmSync(join(dir, READY_FILE));
    mkdirSync(join(dir, READY_FILE));
    expect(readyVersion(dir)).toBeNull();
  });

  test("writeLease/readLease round-trip; a LEASE is stale when its process is gone or it is older than the TTL", async () => {
    using tmp = new TempDir();
    const dir = tmp.path;
    expect(readLease(dir)).toBeNull();

    const before = BigInt(Date.now()) * 1_000_000n;
    writeLease(dir, { epoch: 3 });
    const lease = readLease(dir)!;
    expect(lease.pid).toBe(process.pid);
    expect(lease.epoch).toBe(3);
    expect(lease.timestampNs).toBeGreaterThanOrEqual(before - 1_000_000_000n);
    expect(readdirSync(dir)).toEqual([LEASE_FILE]);
    const onDisk = JSON.parse(readFileSync(join(dir, LEASE_FILE), "utf8")) as Record<string, unknown>;
    expect(Object.keys(onDisk).sort()).toEqual(["epoch", "pid", "timestamp_ns"]);

    expect(isLeaseStale(lease, 60_000)).toBe(false);
    expect(isLeaseStale(lease, 1000, lease.timestampNs + 2_000_000_000n)).toBe(true);
    expect(isLeaseStale({ ...lease, timestampNs: lease.timestampNs - 120_000_000_000n }, 60_000, lease.timestampNs)).toBe(true);

    // A fresh lease of a process that has exited is stale at once.
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    writeLease(dir, { pid: gone.pid, epoch: 4 });
    expect(isLeaseStale(readLease(dir)!, 60_000)).toBe(true);

    // timestamp_ns written as a JSON number (as other implementations may) is accepted too.
    writeFileSync(join(dir, LEASE_FILE), `{"pid":${process.pid},"epoch":5,"timestamp_ns":1700000000000000000}\n`);
    expect(readLease(dir)).toEqual({ pid: process.pid, epoch: 5, timestampNs: 1_700_000_000_000_000_000n });
    writeFileSync(join(dir, LEASE_FILE), "{not json");
    expect(readLease(dir)).toBeNull();
    writeFileSync(join(dir, LEASE_FILE), `{"pid":"1","epoch":1,"timestamp_ns":"1"}`);
    expect(readLease(dir)).toBeNull();
  }, 30_000);

  test("the LEASE of a live strategy process is fresh; after SIGKILL it is stale", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    await using strategy = spawnFixture("bus-strategy.ts", [tmp.path, "alpha"]);
    expect(await strategy.line()).toBe(`ready ${strategy.proc.pid}`);
    const { ordersOut } = layout.strategyEndpoints("alpha");
    const lease = readLease(ordersOut)!;
    expect(lease.pid).toBe(strategy.proc.pid);
    expect(lease.epoch).toBe(1);
    expect(isLeaseStale(lease, 60_000)).toBe(false);
    await strategy.killAndWait();
    expect(isLeaseStale(readLease(ordersOut)!, 60_000)).toBe(true);
  }, 30_000);
});

describe("ReaderRegistration", () => {
  test("close() and dispose remove the reader meta", () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { preallocate: false });
    const meta = readerMetaPath(tmp.path, "router");
    const r = new ReaderRegistration(tmp.path, "router");
    r.reader.commit();
    expect(existsSync(meta)).toBe(true);
    r.close();
    expect(r.reader.isClosed).toBe(true);
    expect(existsSync(meta)).toBe(false);
    r.close();
    {
      using again = new ReaderRegistration(tmp.path, "router");
      expect(existsSync(meta)).toBe(true);
      expect(again.reader.name).toBe("router");
    }
    expect(existsSync(meta)).toBe(false);
  });

  test("a process ending by SIGTERM, SIGINT or exit removes its meta, after the application's own handler; SIGKILL leaves it for the TTL", async () => {
    using tmp = new TempDir();
    createQueue(tmp.path, { preallocate: false });
    // The handlers exit with the conventional 128 + signal status (not killed by the signal).
    const cases: { name: string; mode: string; send: NodeJS.Signals | null; code: number; diedOf: string | null; metaLeft: boolean }[] = [
      { name: "term", mode: "wait", send: "SIGTERM", code: 143, diedOf: null, metaLeft: false },
      { name: "int", mode: "wait", send: "SIGINT", code: 130, diedOf: null, metaLeft: false },
      { name: "exit", mode: "exit", send: "SIGUSR1", code: 0, diedOf: null, metaLeft: false },
      { name: "kill", mode: "wait", send: "SIGKILL", code: 137, diedOf: "SIGKILL", metaLeft: true },
      // The application's own SIGTERM handler still runs; the meta goes when the process exits.
      { name: "own", mode: "own-handler", send: "SIGTERM", code: 0, diedOf: null, metaLeft: false },
    ];
    for (const c of cases) {
      const meta = readerMetaPath(tmp.path, c.name);
      await using child = spawnFixture("bus-registration.ts", [tmp.path, c.name, c.mode]);
      expect(await child.line()).toBe("registered");
      expect(existsSync(meta)).toBe(true);
      if (c.send !== null) child.kill(c.send);
      const r = await child.exit();
      expect({ name: c.name, code: r.code, diedOf: r.signal, metaLeft: existsSync(meta), lines: r.lines }).toEqual({
        name: c.name, code: c.code, diedOf: c.diedOf, metaLeft: c.metaLeft, lines: c.mode === "own-handler" ? ["graceful"] : [],
      });
    }
  }, 30_000);
});

describe("RouterDiscovery", () => {
  test("a strategy that was READY before discovery started is found by the initial scan", () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    const ordersOut = createStrategy(layout, "alpha");
    using discovery = new RouterDiscovery(tmp.path);
    expect(discovery.poll()).toEqual([{ kind: "added", strategy: "alpha", ordersOut, ordersIn: layout.strategyEndpoints("alpha").ordersIn }]);
    expect(discovery.poll()).toEqual([]);
    expect(discovery.strategies).toEqual(["alpha"]);
  });

  test("nothing before READY; Added within a bounded polling loop once READY appears; Removed when READY goes", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    // No periodic rescan: only the watches (READY is two levels below the watched root) can notice.
    using discovery = new RouterDiscovery(tmp.path, { rescanIntervalMs: 3_600_000 });
    expect(discovery.poll()).toEqual([]);
    const ordersOut = createStrategy(layout, "alpha", false);
    const early = await collectUntil(() => discovery.poll(), (e) => e.length > 0, 300);
    expect(early).toEqual([]);

    markReady(ordersOut);
    const added = await collectUntil(() => discovery.poll(), (e) => e.length > 0);
    expect(added).toEqual([{ kind: "added", strategy: "alpha", ordersOut, ordersIn: layout.strategyEndpoints("alpha").ordersIn }]);

    unlinkSync(join(ordersOut, READY_FILE));
    expect(summary(await collectUntil(() => discovery.poll(), (e) => e.length > 0))).toEqual(["removed alpha"]);
    markReady(ordersOut);
    expect(summary(await collectUntil(() => discovery.poll(), (e) => e.length > 0))).toEqual(["added alpha"]);
    expect(discovery.strategies).toEqual(["alpha"]);
  }, 20_000);

  test("a strategy process appears and its directory is removed: Added, then Removed; the router attaches and replies", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    using router = new StrategyRouter(tmp.path, "router", { discovery: { rescanIntervalMs: 3_600_000 } });
    expect(router.sync()).toEqual([]);
    await using strategy = spawnFixture("bus-strategy.ts", [tmp.path, "beta"]);
    const added = await collectUntil(() => router.sync(), (e) => e.length > 0);
    expect(summary(added)).toEqual(["added beta"]);
    expect(router.strategies).toEqual(["beta"]);
    expect(router.fanIn.sourceIds).toEqual([0]);

    const order = await eventually(
      () => {
        const m = router.next();
        return m && `${m.strategy} ${m.sourceId} ${new TextDecoder().decode(m.message.payload)}`;
      },
      (v) => v !== null,
    );
    expect(order).toBe("beta 0 hello from beta");
    router.reply("beta", 3, new TextEncoder().encode("ack"));
    {
      using acks = Queue.openAnonymous(layout.strategyEndpoints("beta").ordersIn);
      expect(new TextDecoder().decode(acks.next()!.payload)).toBe("ack");
    }

    expect(await strategy.line()).toBe(`ready ${strategy.proc.pid}`);
    strategy.kill("SIGTERM");
    expect((await strategy.exit()).code).toBe(0);
    rmSync(layout.strategyDir("beta"), { recursive: true, force: true });
    expect(summary(await collectUntil(() => router.sync(), (e) => e.length > 0))).toEqual(["removed beta"]);
    expect(router.strategies).toEqual([]);
    expect(router.fanIn.sourceIds).toEqual([]);
    expect(fdsUnder(tmp.path)).toBe(0);
  }, 30_000);

  test("a READY that appears before its queue exists: the router retries until it can attach", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    using router = new StrategyRouter(tmp.path, "router", { discovery: { rescanIntervalMs: 3_600_000 } });
    const { ordersOut } = layout.strategyEndpoints("early");
    mkdirSync(ordersOut, { recursive: true });
    markReady(ordersOut);
    // Attaching fails (no control block yet); the failure is not reported as an event.
    expect(await collectUntil(() => router.sync(), (e) => e.length > 0, 500)).toEqual([]);
    expect(router.strategies).toEqual([]);
    createQueue(ordersOut, { preallocate: false });
    expect(summary(await collectUntil(() => router.sync(), (e) => e.length > 0))).toEqual(["added early"]);
    expect(router.strategies).toEqual(["early"]);
  }, 20_000);

  test("a READY version newer than supported is skipped and reported once", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    using discovery = new RouterDiscovery(tmp.path, { rescanIntervalMs: 3_600_000 });
    expect(discovery.poll()).toEqual([]);
    const ordersOut = createStrategy(layout, "future", false);
    createStrategy(layout, "present");
    markReady(ordersOut, SUPPORTED_READY_VERSION + 1);
    const first = await collectUntil(() => discovery.poll(), (e) => e.length >= 2);
    expect(first.map((e) => JSON.stringify(e)).sort()).toEqual([
      JSON.stringify({ kind: "added", strategy: "present", ...layout.strategyEndpoints("present") }),
      JSON.stringify({ kind: "unsupported", strategy: "future", version: SUPPORTED_READY_VERSION + 1 }),
    ].sort());
    expect(discovery.strategies).toEqual(["present"]);

    // Rescans and further changes in its directory do not report it again.
    expect(discovery.scan()).toEqual([]);
    writeLease(ordersOut, { epoch: 1 });
    expect(await collectUntil(() => discovery.poll(), (e) => e.length > 0, 300)).toEqual([]);
    expect(discovery.scan()).toEqual([]);

    // A discovery that supports the version attaches it.
    using newer = new RouterDiscovery(tmp.path, { supportedVersion: SUPPORTED_READY_VERSION + 1 });
    expect(summary(newer.poll())).toEqual(["added future", "added present"]);

    markReady(ordersOut, SUPPORTED_READY_VERSION);
    expect(summary(await collectUntil(() => discovery.poll(), (e) => e.length > 0))).toEqual(["added future"]);
  }, 20_000);

  test("events come sorted by strategy id", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    const ids = ["delta", "Zulu", "alpha", "charlie", "bravo-2", "bravo"];
    for (const id of ids) createStrategy(layout, id);
    using discovery = new RouterDiscovery(tmp.path);
    expect(summary(discovery.poll())).toEqual(["added Zulu", "added alpha", "added bravo", "added bravo-2", "added charlie", "added delta"]);

    rmSync(layout.strategyDir("delta"), { recursive: true });
    unlinkSync(join(layout.strategyEndpoints("alpha").ordersOut, READY_FILE));
    createStrategy(layout, "aardvark");
    rmSync(layout.strategyDir("bravo"), { recursive: true });
    expect(summary(discovery.scan())).toEqual(["added aardvark", "removed alpha", "removed bravo", "removed delta"]);
  });

  test("for await delivers events while the event loop keeps running, and ends on close()", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    const discovery = new RouterDiscovery(tmp.path, { rescanIntervalMs: 3_600_000 });
    const seen: string[] = [];
    const consumer = (async () => {
      for await (const ev of discovery) seen.push(`${ev.kind} ${ev.strategy}`);
      return "ended";
    })();
    const waitFor = (n: number): Promise<number> => eventually(() => seen.length, (k) => k >= n);

    // The changes are made by timers: they only run if the iteration leaves the event loop free.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    setTimeout(() => createStrategy(layout, "one"), 50);
    setTimeout(() => createStrategy(layout, "two"), 150);
    await waitFor(2);
    setTimeout(() => rmSync(layout.strategyDir("one"), { recursive: true }), 50);
    await waitFor(3);
    clearInterval(ticker);
    expect(seen).toEqual(["added one", "added two", "removed one"]);
    expect(ticks).toBeGreaterThan(0);

    discovery.close();
    const ended = await Promise.race([consumer, Bun.sleep(5000).then(() => "still running")]);
    expect(ended).toBe("ended");
  }, 20_000);

  test("rapid create/delete races (here and in another process) leave no leaked reader, fd or mapping", async () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.path);
    mkdirSync(layout.strategiesDir, { recursive: true });
    const baselineFds = fdCount();
    const router = new StrategyRouter(tmp.path, "router", { discovery: { rescanIntervalMs: 50 } });
    const seenIds = new Set<number>();
    const step = (): void => {
      router.sync();
      for (const id of router.fanIn.sourceIds) seenIds.add(id);
      while (router.next() !== null);
    };

    await using churn = spawnFixture("bus-churn.ts", [tmp.path, "c", "25", "5"]);
    const kept: string[] = [];
    for (let i = 0; i < 25; i++) {
      const id = `p-${String(i).padStart(3, "0")}`;
      createStrategy(layout, id);
      step();
      if (i % 5 === 0) kept.push(id);
      else {
        // Sometimes READY goes first, sometimes the whole directory at once.
        if (i % 2 === 0) unlinkSync(join(layout.strategyEndpoints(id).ordersOut, READY_FILE));
        step();
        removeTree(layout.strategyDir(id));
      }
      step();
      await Bun.sleep(i % 3);
    }
    const done = await churn.until((l) => l.startsWith("done "));
    kept.push(...(JSON.parse(done[done.length - 1]!.slice(5)) as string[]));
    kept.sort();
    expect(readdirSync(layout.strategiesDir).sort()).toEqual(kept);

    // Once the dust settles, exactly the surviving strategies are attached, one source each.
    const attached = (): string[] => (step(), router.strategies);
    await eventually(attached, (s) => JSON.stringify(s) === JSON.stringify(kept), 10_000, 20);
    expect(router.strategies).toEqual(kept);
    expect(router.discovery.strategies.sort()).toEqual(kept);
    expect(router.fanIn.sourceIds.length).toBe(kept.length);
    const ids = router.fanIn.sourceIds;
    expect(new Set(ids).size).toBe(ids.length);

    // Removing the rest detaches everything: no fd or mapping under the root survives.
    for (const id of kept) removeTree(layout.strategyDir(id));
    await eventually(attached, (s) => s.length === 0, 10_000, 20);
    expect(router.strategies).toEqual([]);
    expect(router.fanIn.sourceIds).toEqual([]);
    expect(fdsUnder(tmp.path)).toBe(0);
    expect(mapsUnder(tmp.path)).toBe(0);
    router.close();
    expect(await eventually(fdCount, (n) => n === baselineFds, 5000, 20)).toBe(baselineFds);
  }, 30_000);
});

describe("the demo", () => {
  test("feed, strategies and router as processes: exits 0 with a summary of messages, latencies and discovery events", async () => {
    using tmp = new TempDir();
    const root = tmp.join("bus");
    const { code, stdout, stderr } = await runToEnd(["bun", "run", join(REPO, "examples", "demo.ts"), root, "--duration", "3000"], { cwd: REPO });
    const lines = stdout.trim().split("\n");
    if (code !== 0) console.error(stdout, stderr);
    expect(code).toBe(0);
    const s = JSON.parse(lines[lines.length - 1]!) as {
      ok: boolean;
      feed: { ticks: number };
      strategies: Record<string, { ticksSeen: number; orders: number; acks: number; ackLatencyUs: { p50: number; p99: number; max: number } }>;
      router: { routed: number; perStrategy: Record<string, number>; events: string[]; attached: string[] };
    };
    expect(s.ok).toBe(true);
    expect(s.feed.ticks).toBeGreaterThan(0);
    expect(Object.keys(s.strategies).sort()).toEqual(["alpha", "beta", "gamma"]);
    for (const [id, st] of Object.entries(s.strategies)) {
      expect({ id, ticksSeen: st.ticksSeen > 0, orders: st.orders > 0 }).toEqual({ id, ticksSeen: true, orders: true });
    }
    for (const id of ["alpha", "gamma"]) {
      const { acks, ackLatencyUs } = s.strategies[id]!;
      expect(acks).toBeGreaterThan(0);
      expect(ackLatencyUs.p50).toBeGreaterThanOrEqual(0);
      expect(ackLatencyUs.p99).toBeGreaterThanOrEqual(ackLatencyUs.p50);
      expect(ackLatencyUs.max).toBeGreaterThanOrEqual(ackLatencyUs.p99);
    }
    // The printed summary says what the latencies include, with each strategy's backlog beside them.
    expect(stdout).toContain("How to read the latencies: order->ack is the time");
    expect(stdout.match(/^ +order->ack µs p50 (-|[\d.]+) p99 (-|[\d.]+) max (-|[\d.]+); tick age at read µs p50 [\d.]+ p99 [\d.]+ max [\d.]+$/gm)).toHaveLength(3);
    expect(s.router.routed).toBeGreaterThan(0);
    expect(s.router.perStrategy.alpha).toBeGreaterThan(0);
    expect(s.router.perStrategy.gamma).toBeGreaterThan(0);
    for (const ev of ["added alpha", "added beta", "added gamma", "removed beta"]) expect(s.router.events).toContain(ev);
    expect(s.router.events.indexOf("added beta")).toBeLessThan(s.router.events.indexOf("removed beta"));
    expect(s.router.attached).toEqual(["alpha", "gamma"]);
  }, 60_000);
});
