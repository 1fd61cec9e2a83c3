/**
 * Issue 15, "Security": nothing is opened, created or written through a symbolic link planted in
 * a queue or under a bus root, and tools do not follow directory links; directories of other users
 * are refused, what chronicle creates gets explicit private modes, and names cannot hide characters.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BusLayout, InvalidArgument, Queue, RouterDiscovery, StrategyRouter, UnsafePath, validateStrategyId } from "../src/index.ts";
import { CONTROL_FILE, READERS_DIR, WRITER_LOCK_FILE, segmentFileName } from "../src/queue/layout/index.ts";
import { createStrategy } from "./helpers/bus.ts";
import { thrown } from "./helpers/errors.ts";
import { createQueue } from "./helpers/queue.ts";
import { FIXTURES, runToEnd } from "./helpers/spawn.ts";
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

describe("other users' directories", () => {
  test("a queue directory owned by another user, or writable by others, is refused unless allowShared", () => {
    using tmp = new TempDir();
    const theirs = createQueue(tmp.join("theirs"), SMALL);
    chownSync(theirs, 65534, 65534);
    const open = createQueue(tmp.join("open"), SMALL);
    chmodSync(open, 0o777);
    for (const dir of [theirs, open]) {
      expectUnsafe(thrown(() => Queue.openPublisher(dir, SMALL)), dir);
      expectUnsafe(thrown(() => Queue.openSubscriber(dir, "r1")), dir);
      expectUnsafe(thrown(() => Queue.openAnonymous(dir)), dir);
      // Refused before anything was created: no reader meta.
      expect(readdirSync(join(dir, READERS_DIR))).toEqual([]);
      Queue.openPublisher(dir, { ...SMALL, allowShared: true }).close();
      Queue.openSubscriber(dir, "r1", { allowShared: true }).close();
    }
  });

  test("a bus root owned by another user, or mode 0777, is refused by discovery and the router unless allowShared", () => {
    using tmp = new TempDir();
    const theirs = new BusLayout(tmp.join("theirs"));
    createStrategy(theirs, "alpha");
    chownSync(theirs.root, 65534, 65534);
    const open = new BusLayout(tmp.join("open"));
    createStrategy(open, "alpha");
    chmodSync(open.root, 0o777);
    for (const layout of [theirs, open]) {
      expectUnsafe(thrown(() => new RouterDiscovery(layout.root)), layout.root);
      expectUnsafe(thrown(() => new StrategyRouter(layout.root, "router")), layout.root);
      // Opted in: in the layout, in the router's or in discovery's options.
      using a = new StrategyRouter(new BusLayout(layout.root, { allowShared: true }), "router");
      expect(a.sync().map((e) => e.strategy)).toEqual(["alpha"]);
      new StrategyRouter(layout.root, "router2", { allowShared: true }).close();
      new RouterDiscovery(layout.root, { allowShared: true }).close();
    }
  });

  test("new queue files and directories get explicit modes under umask 000 (default 0600/0700, or the mode option)", async () => {
    using tmp = new TempDir();
    const modesUnder = (dir: string): Map<string, number> => {
      const out = new Map<string, number>();
      for (const rel of tree(dir)) out.set(rel, statSync(join(dir, rel)).mode & 0o7777);
      return out;
    };
    for (const [arg, file, dir] of [[null, 0o600, 0o700], ["640", 0o640, 0o750]] as const) {
      const q = tmp.join(`q-${arg}`);
      const root = tmp.join(`bus-${arg}`);
      const script = `umask 000; exec bun ${join(FIXTURES, "private-modes.ts")} ${q} ${root}${arg === null ? "" : ` ${arg}`}`;
      const run = await runToEnd(["bash", "-c", script]);
      expect(run.stderr).toBe("");
      expect(run.stdout.trim()).toBe("ok");
      const queue = modesUnder(q);
      expect(statSync(q).mode & 0o777).toBe(dir);
      // Everything the queue holds: control.meta, writer.lock, index.meta, two segments, readers/, a reader meta.
      for (const name of [CONTROL_FILE, WRITER_LOCK_FILE, "index.meta", segmentFileName(0), segmentFileName(1), join(READERS_DIR, "r.meta")]) {
        expect([name, queue.get(name)]).toEqual([name, file]);
      }
      expect(queue.get(READERS_DIR)).toBe(dir);
      for (const [name, m] of modesUnder(root)) {
        expect([name, m]).toEqual([name, statSync(join(root, name)).isDirectory() ? dir : file]);
      }
      expect(statSync(root).mode & 0o777).toBe(dir);
      expect(modesUnder(root).has(join("orders", "queue", "alpha", "orders_out", "READY"))).toBe(true);
      expect(modesUnder(root).has(join("orders", "queue", "alpha", "orders_in", CONTROL_FILE))).toBe(true);
    }
  });

  test("a mode the owner cannot read and write, or that is not a mode, is refused", () => {
    using tmp = new TempDir();
    for (const mode of [0o400, 0o1777, -1, 1.5, "600"]) {
      expect(thrown(() => Queue.openPublisher(tmp.join("q"), { ...SMALL, mode: mode as number }))).toBeInstanceOf(InvalidArgument);
      expect(thrown(() => new BusLayout(tmp.join("b"), { mode: mode as number }))).toBeInstanceOf(InvalidArgument);
    }
    expect(readdirSync(tmp.path)).toEqual([]);
  });
});

describe("default bus root", () => {
  const defaultRoot = async (env: Record<string, string | undefined>): Promise<Record<string, string>> => {
    const run = await runToEnd(["bun", join(FIXTURES, "default-root.ts")], { env: { ...process.env, ...env } });
    expect(run.stderr).toBe("");
    return JSON.parse(run.stdout);
  };

  test("is $XDG_RUNTIME_DIR/chronicle-bus when that is this user's private directory", async () => {
    using tmp = new TempDir();
    const xdg = tmp.join("run");
    mkdirSync(xdg, { mode: 0o700 });
    expect(await defaultRoot({ XDG_RUNTIME_DIR: xdg, TMPDIR: tmp.path })).toEqual({ root: join(xdg, "chronicle-bus") });
  });

  test("is <tmp>/chronicle-<uid>/bus, created 0700, when XDG_RUNTIME_DIR is unset or not private", async () => {
    using tmp = new TempDir();
    const shared = tmp.join("shared");
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const uid = process.getuid!();
    for (const xdg of [undefined, shared, "relative/dir"]) {
      expect(await defaultRoot({ XDG_RUNTIME_DIR: xdg, TMPDIR: tmp.path })).toEqual({ root: join(tmp.path, `chronicle-${uid}`, "bus") });
    }
    expect(statSync(tmp.join(`chronicle-${uid}`)).mode & 0o777).toBe(0o700);
  });

  test("refuses a <tmp>/chronicle-<uid> that another user created first", async () => {
    using tmp = new TempDir();
    const uid = process.getuid!();
    const planted = tmp.join(`chronicle-${uid}`);
    mkdirSync(planted, { mode: 0o700 });
    chownSync(planted, 65534, 65534);
    expect(await defaultRoot({ XDG_RUNTIME_DIR: undefined, TMPDIR: tmp.path })).toEqual({ error: "UnsafePath", code: "UNSAFE_PATH", path: planted });
    chownSync(planted, uid, uid);
    chmodSync(planted, 0o777);
    expect(await defaultRoot({ XDG_RUNTIME_DIR: undefined, TMPDIR: tmp.path })).toEqual({ error: "UnsafePath", code: "UNSAFE_PATH", path: planted });
  });
});

describe("names shown by tools", () => {
  test("reader names and strategy ids with control characters or bidi overrides are refused", () => {
    using tmp = new TempDir();
    const dir = createQueue(tmp.join("q"), SMALL);
    const layout = new BusLayout(tmp.join("root"));
    for (const name of ["a\u202Eb", "x\u202A", "\u2066iso", "pop\u2069", "new\nline", "esc\x1b[31m", "del\x7f", "c1\u0085"]) {
      expect(thrown(() => Queue.openSubscriber(dir, name))).toBeInstanceOf(InvalidArgument);
      expect(thrown(() => validateStrategyId(name))).toBeInstanceOf(InvalidArgument);
      expect(thrown(() => layout.strategyDir(name))).toBeInstanceOf(InvalidArgument);
    }
    expect(readdirSync(join(dir, READERS_DIR))).toEqual([]);
    // Ordinary non-ASCII names stay fine.
    Queue.openSubscriber(dir, "stratégie-α").close();
    expect(validateStrategyId("策略")).toBe("策略");
  });
});
