/**
 * Issue 15, "Security": nothing is opened, created or written through a symbolic link planted in
 * a queue or under a bus root, and tools do not follow directory links.
 */
import { describe, expect, test } from "bun:test";
import { chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BusLayout, Queue, RouterDiscovery, StrategyRouter, UnsafePath } from "../src/index.ts";
import { CONTROL_FILE, READERS_DIR, WRITER_LOCK_FILE, segmentFileName } from "../src/queue/layout/index.ts";
import { createStrategy } from "./helpers/bus.ts";
import { thrown } from "./helpers/errors.ts";
import { createQueue } from "./helpers/queue.ts";
import { runToEnd } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

const CLI = resolve(import.meta.dir, "..", "cli", "main.ts");
const SMALL = { segmentSize: 1 << 16, preallocate: false } as const;

/** Every path under `dir` (recursively, links not followed), sorted. */
function tree(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

function expectUnsafe(e: unknown, path: string): void {
  expect(e).toBeInstanceOf(UnsafePath);
  expect((e as UnsafePath).code).toBe("UNSAFE_PATH");
  expect((e as UnsafePath).path).toBe(path);
}

describe("symbolic links in a queue directory", () => {
  test("a writer.lock linked to another user's file is refused and the file keeps its content", () => {
    using tmp = new TempDir();
    const victim = tmp.join("victim.txt");
    writeFileSync(victim, "precious\n");
    chownSync(victim, 65534, 65534);
    // A new queue directory and an existing queue, each with the link planted.
    const fresh = tmp.join("fresh");
    mkdirSync(fresh);
    symlinkSync(victim, join(fresh, WRITER_LOCK_FILE));
    const existing = createQueue(tmp.join("existing"), SMALL);
    rmSync(join(existing, WRITER_LOCK_FILE));
    symlinkSync(victim, join(existing, WRITER_LOCK_FILE));
    for (const dir of [fresh, existing]) {
      expectUnsafe(thrown(() => Queue.openPublisher(dir, SMALL)), join(dir, WRITER_LOCK_FILE));
      expect(readFileSync(victim, "utf8")).toBe("precious\n");
    }
    // Nothing was created in the fresh directory besides readers/ (made before the lock).
    expect(tree(fresh).filter((p) => p !== READERS_DIR)).toEqual([WRITER_LOCK_FILE]);
  });

  test("a dangling writer.lock link is not created through", () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    mkdirSync(dir);
    symlinkSync(tmp.join("elsewhere"), join(dir, WRITER_LOCK_FILE));
    expectUnsafe(thrown(() => Queue.openPublisher(dir, SMALL)), join(dir, WRITER_LOCK_FILE));
    expect(readdirSync(tmp.path).sort()).toEqual(["q"]);
  });

  test("a symlinked readers/ is refused by writers and named readers; nothing is written through it", () => {
    using tmp = new TempDir();
    const dir = createQueue(tmp.join("q"), SMALL);
    const outside = tmp.join("outside");
    mkdirSync(outside);
    rmSync(join(dir, READERS_DIR), { recursive: true });
    symlinkSync(outside, join(dir, READERS_DIR));
    expectUnsafe(thrown(() => Queue.openSubscriber(dir, "r1")), join(dir, READERS_DIR));
    expectUnsafe(thrown(() => Queue.openPublisher(dir, SMALL)), join(dir, READERS_DIR));
    expect(readdirSync(outside)).toEqual([]);
    // An anonymous reader writes nothing, so it may still open the queue.
    using anon = Queue.openAnonymous(dir);
    expect(anon.next()).toBeNull();
  });

  test("a symlinked control.meta is refused by writers and readers, and its target is not written", () => {
    using tmp = new TempDir();
    const dir = createQueue(tmp.join("q"), SMALL);
    const target = tmp.join("control.copy");
    copyFileSync(join(dir, CONTROL_FILE), target);
    const before = readFileSync(target);
    rmSync(join(dir, CONTROL_FILE));
    symlinkSync(target, join(dir, CONTROL_FILE));
    expectUnsafe(thrown(() => Queue.openPublisher(dir, SMALL)), join(dir, CONTROL_FILE));
    expectUnsafe(thrown(() => Queue.openSubscriber(dir, "r1", { openTimeoutMs: 50 })), join(dir, CONTROL_FILE));
    expect(readFileSync(target).equals(before)).toBe(true);
  });

  test("a symlinked head segment is refused by the writer, and its target is not written", () => {
    using tmp = new TempDir();
    const dir = createQueue(tmp.join("q"), SMALL);
    const head = join(dir, segmentFileName(0));
    const target = tmp.join("segment.copy");
    renameSync(head, target);
    const before = readFileSync(target);
    symlinkSync(target, head);
    expectUnsafe(thrown(() => Queue.openPublisher(dir, SMALL)), head);
    expect(readFileSync(target).equals(before)).toBe(true);
  });
});

describe("symbolic links under a bus root", () => {
  test("a router does not attach a strategy directory or orders_out that is a link, and creates nothing outside the root", () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.join("root"));
    createStrategy(layout, "good");
    // Real queues outside the root, READY, reached through links under it.
    const elsewhere = new BusLayout(tmp.join("elsewhere"));
    createStrategy(elsewhere, "linkdir");
    createStrategy(elsewhere, "linkout");
    mkdirSync(layout.strategiesDir, { recursive: true });
    symlinkSync(elsewhere.strategyDir("linkdir"), layout.strategyDir("linkdir"));
    mkdirSync(layout.strategyDir("linkout"));
    symlinkSync(elsewhere.strategyEndpoints("linkout").ordersOut, layout.strategyEndpoints("linkout").ordersOut);
    const before = tree(elsewhere.root);

    using router = new StrategyRouter(layout, "router");
    const events = router.sync();
    expect(events.map((e) => `${e.kind}:${e.strategy}`)).toEqual(["added:good"]);
    expect(router.strategies).toEqual(["good"]);
    // The scan repeats; still nothing attached through the links.
    expect(router.discovery.scan()).toEqual([]);
    expect(tree(elsewhere.root)).toEqual(before);
  });

  test("a router refuses to reply through an orders_in that is a link", () => {
    using tmp = new TempDir();
    const layout = new BusLayout(tmp.join("root"));
    createStrategy(layout, "alpha");
    const outside = tmp.join("outside");
    mkdirSync(outside);
    symlinkSync(outside, layout.strategyEndpoints("alpha").ordersIn);
    using router = new StrategyRouter(layout, "router");
    router.sync();
    expect(router.strategies).toEqual(["alpha"]);
    expectUnsafe(thrown(() => router.reply("alpha", 1, new Uint8Array(4))), layout.strategyEndpoints("alpha").ordersIn);
    expect(readdirSync(outside)).toEqual([]);
  });

  test("discovery refuses a strategies directory that is a link out of the root", () => {
    using tmp = new TempDir();
    const root = tmp.join("root");
    mkdirSync(root);
    const outside = tmp.join("outside");
    mkdirSync(outside);
    symlinkSync(outside, join(root, "orders"));
    expectUnsafe(thrown(() => new RouterDiscovery(root)), join(root, "orders"));
    expect(readdirSync(outside)).toEqual([]);
  });
});

describe("doctor and directory links", () => {
  test("doctor on a tree with a symlink loop finishes and lists each queue once", async () => {
    using tmp = new TempDir();
    const a = createQueue(tmp.join("a"), SMALL);
    const b = createQueue(tmp.join("sub", "b"), SMALL);
    symlinkSync(tmp.path, tmp.join("sub", "loop"));
    symlinkSync("..", tmp.join("sub", "up"));
    symlinkSync(a, tmp.join("a-again"));
    const run = await runToEnd(["bun", CLI, "doctor", tmp.path, "--json"], {});
    const report = JSON.parse(run.stdout);
    expect([...report.queues].sort()).toEqual([a, b].sort());
  });
});
