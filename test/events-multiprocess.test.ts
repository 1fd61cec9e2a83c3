import { describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EventStore, type StoredEvent } from "../src/events/index.ts";
import { runToEnd, spawnFixture } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

describe("event store: several processes", () => {
  test("two executions race on one stream: one wins, the other conflicts, retries on fresh state and succeeds", async () => {
    using tmp = new TempDir();
    EventStore.open(tmp.join("store")).close();
    mkdirSync(tmp.join("barrier"));
    const children = ["p1", "p2"].map((name) => spawnFixture("events-race.ts", [tmp.join("store"), name, tmp.join("barrier"), "2"]));
    const results = await Promise.all(children.map(async (c) => {
      const r = await c.exit();
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      return JSON.parse(r.lines[0]!) as { attempts: number; versions: [string, number][]; written: number[] };
    }));
    const [winner, loser] = results.sort((x, y) => x.attempts - y.attempts);
    expect(winner).toEqual({ attempts: 1, versions: [["race", 0]], written: [1] });
    expect(loser).toEqual({ attempts: 2, versions: [["race", 1]], written: [2] });
    using store = EventStore.open(tmp.join("store"));
    expect(store.readStream("race").events.map((e) => (e.data as { seen: number }).seen)).toEqual([0, 1]);
  });

  test("4 processes x 500 increments of one counter through execute: version exactly 2000, every increment applied once", async () => {
    using tmp = new TempDir();
    EventStore.open(tmp.path).close();
    const go = tmp.join("go");
    const children = [0, 1, 2, 3].map((k) => spawnFixture("events-counter.ts", [tmp.path, `p${k}`, "500", go]));
    writeFileSync(go, "");
    for (const c of children) {
      const r = await c.exit();
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.lines[0]).toMatch(/^done \d+ \d+ \d+$/);
    }
    using store = EventStore.open(tmp.path);
    const { version, events } = store.readStream<{ by: string; i: number; value: number }>("counter");
    expect(version).toBe(2000);
    // Each event holds the count its command folded + 1: no increment was lost or applied on stale state.
    expect(events.every((e) => e.data.value === e.version)).toBe(true);
    const applied = new Set(events.map((e) => `${e.data.by}/${e.data.i}`));
    expect(applied.size).toBe(2000);
    for (let k = 0; k < 4; k++) for (let i = 0; i < 500; i++) expect(applied.has(`p${k}/${i}`)).toBe(true);
  }, 60_000);
});

/** Checks that every batch of the appender is in all of a, b and c or in none; returns the common version. */
function checkAllOrNothing(store: EventStore): number {
  const [a, b, c] = ["a", "b", "c"].map((s) => store.readStream<{ batch: number }>(s));
  expect(b!.version).toBe(a!.version);
  expect(c!.version).toBe(a!.version);
  const batches = (r: { events: StoredEvent<{ batch: number }>[] }) => r.events.map((e) => e.data.batch);
  const expected = Array.from({ length: a!.version }, (_, i) => i + 1);
  expect(batches(a!)).toEqual(expected);
  expect(batches(b!)).toEqual(expected);
  expect(batches(c!)).toEqual(expected);
  return a!.version;
}

/** What identifies each event: version, globalSeq, timestamp and the batch it came from. */
function digest(events: StoredEvent[]): string[] {
  return events.map((e) => `${e.version}/${e.globalSeq}/${e.timestampNs}/${(e.data as { batch: number }).batch}`);
}

describe("event store: kill -9", () => {
  test("an appender killed at random points, 20 times: each multi-stream append is in every stream or in none; a fresh index matches one kept up to date", async () => {
    using tmp = new TempDir();
    using follower = EventStore.open(tmp.path, { segmentSize: 1 << 18 });
    let last = 0;
    for (let trial = 0; trial < 20; trial++) {
      const child = spawnFixture("events-appender.ts", [tmp.path]);
      await child.line();
      await Bun.sleep((trial * 37) % 40);
      await child.killAndWait("SIGKILL");
      using fresh = EventStore.open(tmp.path);
      const version = checkAllOrNothing(fresh);
      expect(version).toBeGreaterThan(last);
      last = version;
      // The follower caught up incrementally; the fresh store derived everything from the log.
      for (const s of ["a", "b", "c"]) expect(digest(follower.readStream(s).events)).toEqual(digest(fresh.readStream(s).events));
      expect(follower.stats.lastGlobalSeq).toBe(3 * version);
    }
  }, 60_000);

  test("a torn append (complete batch bytes, never committed) is absent after reopen, and stays absent after the next appends", async () => {
    using tmp = new TempDir();
    {
      using store = EventStore.open(tmp.path);
      store.append([{ stream: "a", expected: "no_stream", events: [{ type: "first", data: 1 }] }]);
    }
    const child = spawnFixture("events-torn.ts", [tmp.path]);
    expect(await child.line()).toBe("claimed");
    const r = await child.exit();
    expect(r.signal).toBe("SIGKILL");
    using store = EventStore.open(tmp.path);
    expect(store.readStream("a").version).toBe(1);
    expect(store.readStream("b").version).toBe(0);
    store.append([{ stream: "a", expected: 1, events: [{ type: "second", data: 2 }] }, { stream: "b", expected: "no_stream", events: [{ type: "second", data: 2 }] }]);
    using fresh = EventStore.open(tmp.path);
    for (const s of [store, fresh]) {
      expect(s.readStream("a").events.map((e) => e.type)).toEqual(["first", "second"]);
      expect(s.readStream("b").events.map((e) => [e.type, e.version, e.globalSeq])).toEqual([["second", 1, 3]]);
    }
  });
});

describe("examples/orders.ts", () => {
  test("runs with no arguments: fills written atomically, rejections, and a projection process printing the final positions", async () => {
    const r = await runToEnd(["bun", join(import.meta.dir, "..", "examples", "orders.ts")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toContain("[orders] FillOrder(1, 60): visited order-1, account-alice, instrument-ACME; wrote order-1@2 + account-alice@2 in attempt 1");
    expect(lines).toContain("[orders] FillOrder(3) conflicted on instrument-GLOBEX; retrying");
    expect(lines).toContain("[orders] FillOrder(3) rejected: instrument GLOBEX is not tradable");
    expect(lines).toContain("[projection]   alice: ACME 100, GLOBEX 4");
    expect(lines).toContain("[projection]   bob: ACME -40, INITECH 7");
  });
});
