/**
 * The CLI's registry (version, help, did-you-mean, completion) and its live views: `stat` and
 * `metrics`, run as child processes against queues this test wrote.
 */
import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import parsePrometheus from "parse-prometheus-text-format";
import pkg from "../package.json" with { type: "json" };
import { optionsOf } from "../cli/command.ts";
import { loadCommands } from "../cli/registry.ts";
import { Queue } from "../src/index.ts";
import { recordLength } from "../src/queue/layout/index.ts";
import { listSegmentIds } from "../src/queue/segment.ts";
import { AS_NOBODY, cannotRunAsNobody, runToEnd, spawnCommand, spawnFixture, type Finished } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

const CLI = join(import.meta.dir, "..", "cli", "main.ts");
const SEGMENT = 65536;
const PAYLOAD = 1000;
/** Records of PAYLOAD bytes that fit in one segment. */
const PER_SEGMENT = Math.floor((SEGMENT - 64) / recordLength(PAYLOAD));

function cli(args: string[], prefix: string[] = []): Promise<Finished> {
  return runToEnd([...prefix, "bun", CLI, ...args], { env: { ...process.env, NO_COLOR: "1" } });
}

function expectUsageError(r: Finished, message: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("chronicle: ");
  expect(lines[0]).toMatch(message);
}

/** Runs every case at once; each must be a usage error matching its pattern. */
async function expectUsageErrors(cases: [string[], RegExp][]): Promise<void> {
  const runs = await Promise.all(cases.map(([args]) => cli(args)));
  runs.forEach((r, i) => expectUsageError(r, cases[i]![1]));
}

/**
 * root/orders: 150 records over 3 segments, readers at seq 0 ("start"), at the end of segment 0
 * ("boundary") and 10 behind the head ("near"); root/sub/fills: 3 records, no reader; root/empty
 * and root/file hold no queue. Everything closed.
 */
function writeRoot(root: string): { orders: string; fills: string } {
  const orders = join(root, "orders");
  const fills = join(root, "sub", "fills");
  mkdirSync(join(root, "empty"), { recursive: true });
  writeFileSync(join(root, "file"), "not a queue");
  const payload = new Uint8Array(PAYLOAD).fill(7);
  {
    using w = Queue.openPublisher(orders, { segmentSize: SEGMENT, preallocate: false });
    for (let i = 0; i < 150; i++) w.append(1, payload);
  }
  for (const [name, n] of [["start", 0], ["boundary", PER_SEGMENT], ["near", 140]] as const) {
    using r = Queue.openSubscriber(orders, name);
    for (let i = 0; i < n; i++) expect(r.next()).not.toBeNull();
    r.commit();
  }
  {
    using w = Queue.openPublisher(fills, { segmentSize: SEGMENT, preallocate: false });
    for (let i = 0; i < 3; i++) w.append(2, payload.subarray(0, 10));
  }
  return { orders, fills };
}

/** Every file and directory under `dir` with its mtime, mode and (for files) bytes. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    const st = statSync(d);
    out.set(d, `dir ${st.mtimeMs} ${st.mode}`);
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else out.set(p, `file ${s.mtimeMs} ${s.mode} ${Bun.hash(readFileSync(p))}`);
    }
  };
  walk(dir);
  return out;
}

describe("registry", () => {
  test("--version prints the package version; help <command> and <command> --help print each command's usage; the usage lists them all", async () => {
    const commands = await loadCommands();
    expect(commands.map((c) => c.name)).toEqual(expect.arrayContaining(["bench", "completion", "doctor", "inspect", "metrics", "stat", "tail"]));
    const [version, usage, ...helps] = await Promise.all([
      cli(["--version"]),
      cli(["--help"]),
      ...commands.flatMap((c) => [cli(["help", c.name]), cli([c.name, "--help"])]),
    ]);
    expect(version).toEqual({ code: 0, stdout: `chronicle ${pkg.version}\n`, stderr: "" });
    for (const c of commands) expect(usage.stdout).toMatch(new RegExp(`^  ${c.name} +${c.summary.replace(/[()|.*+?]/g, "\\$&")}$`, "m"));
    commands.forEach((c, i) => {
      expect(helps[2 * i]).toEqual({ code: 0, stdout: `${c.usage}\n`, stderr: "" });
      expect(helps[2 * i + 1]).toEqual(helps[2 * i]);
      expect(c.usage).toStartWith(`usage: chronicle ${c.name}`);
    });
  }, 30_000);

  test("an unknown command suggests the near ones (typo or unique prefix), or none; help <unknown> too; exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["inspct"], /^chronicle: unknown command "inspct" \(did you mean "inspect"\? try --help\)$/],
      [["doctr", "x"], /did you mean "doctor"\?/],
      [["metr"], /did you mean "metrics"\?/],
      [["stta"], /did you mean "stat"\?/],
      [["help", "tial"], /unknown command "tial" \(did you mean "tail"\?/],
      [["zzzzzzzz"], /^chronicle: unknown command "zzzzzzzz" \(try --help\)$/],
      [["help", "stat", "more"], /help: unexpected argument "more"/],
    ];
    await expectUsageErrors(cases);
  }, 30_000);
});

describe("completion", () => {
  test("bash: completes command names, each command's options, help topics, shells and directories", async () => {
    using tmp = new TempDir();
    mkdirSync(tmp.join("queues"));
    writeFileSync(tmp.join("queue-file"), "");
    const script = await cli(["completion", "bash"]);
    expect(script.code).toBe(0);
    writeFileSync(tmp.join("c.bash"), script.stdout);
    const complete = async (...words: string[]): Promise<string[]> => {
      const array = words.map((w) => `'${w}'`).join(" ");
      const r = await runToEnd(["bash", "-c", `source c.bash; COMP_WORDS=(${array}); COMP_CWORD=${words.length - 1}; _chronicle; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: tmp.path });
      expect(r.stderr).toBe("");
      return r.stdout.split("\n").filter((l) => l !== "").sort();
    };
    const commands = await loadCommands();
    expect(await complete("chronicle", "")).toEqual([...commands.map((c) => c.name), "help", "--help", "--version"].sort());
    expect(await complete("chronicle", "ins")).toEqual(["inspect"]);
    expect(await complete("chronicle", "st")).toEqual(["stat"]);
    expect(await complete("chronicle", "doctor", "--")).toEqual(optionsOf(commands.find((c) => c.name === "doctor")!.usage).filter((o) => o.startsWith("--") && o !== "--help").sort());
    expect(await complete("chronicle", "stat", "--o")).toEqual(["--once"]);
    expect(await complete("chronicle", "metrics", "--l")).toEqual(["--listen"]);
    expect(await complete("chronicle", "help", "m")).toEqual(["metrics"]);
    expect(await complete("chronicle", "completion", "")).toEqual(["bash", "fish", "zsh"]);
    // Arguments are directories: the file is not offered.
    expect(await complete("chronicle", "stat", "que")).toEqual(["queues"]);
  }, 30_000);

  test("zsh and fish: every command with its summary and options; an unknown shell is a usage error", async () => {
    const [zsh, fish, bad, none] = await Promise.all([cli(["completion", "zsh"]), cli(["completion", "fish"]), cli(["completion", "tcsh"]), cli(["completion"])]);
    expect(zsh.code).toBe(0);
    expect(zsh.stdout).toStartWith("#compdef chronicle\n");
    expect(fish.code).toBe(0);
    for (const c of await loadCommands()) {
      expect(zsh.stdout).toContain(`'${c.name}:${c.summary.replace(/:/g, "\\:")}'`);
      expect(fish.stdout).toContain(`complete -c chronicle -n __fish_use_subcommand -a ${c.name} -d '${c.summary}'`);
      for (const o of optionsOf(c.usage).filter((x) => x !== "--help")) {
        expect(fish.stdout).toContain(`-n '__fish_seen_subcommand_from ${c.name}' ${o.startsWith("--") ? `-l ${o.slice(2)}` : `-s ${o.slice(1)}`}\n`);
        if (c.name !== "completion") expect(zsh.stdout).toMatch(new RegExp(`^    ${c.name}\\) opts=\\(.*'${o}'.*\\) ;;$`, "m"));
      }
    }
    expectUsageError(bad, /completion: unknown shell "tcsh" \(bash, zsh or fish\)/);
    expectUsageError(none, /completion: missing shell/);
  }, 30_000);
});

describe("stat", () => {
  test("--once --json: every queue under a root with head, segments, disk use and each reader's next seq and lag; the text view shows the same", async () => {
    using tmp = new TempDir();
    const { orders, fills } = writeRoot(tmp.path);
    const [j, text] = await Promise.all([cli(["stat", tmp.path, "--once", "--json", "--interval", "50ms"]), cli(["stat", tmp.path, "--once", "--interval", "50ms"])]);
    expect(j.stderr).toBe("");
    expect(j.code).toBe(0);
    const lines = j.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const s = JSON.parse(lines[0]!);
    expect(s.errors).toEqual([]);
    expect(s.queues.map((q: any) => q.dir)).toEqual([orders, fills]);
    const [o, f] = s.queues;
    const ids = listSegmentIds(orders);
    expect(ids).toEqual([0, 1, 2]);
    expect(o.head).toMatchObject({ segment: 2, lastSeq: 149, nextSeq: 150 });
    expect(o.segments).toEqual({ count: 3, bytes: 3 * SEGMENT, oldest: 0, newest: 2 });
    expect(o.writer).toMatchObject({ alive: false, epoch: 1 });
    // Nothing was appended between the two samples.
    expect(o.rates).toEqual({ recordsPerSec: 0, bytesPerSec: 0 });
    const readers = Object.fromEntries(o.readers.map((r: any) => [r.name, r]));
    expect(Object.keys(readers).sort()).toEqual(["boundary", "near", "start"]);
    expect(readers.start).toMatchObject({ nextSeq: 0, lagRecords: 150, state: "live", open: false });
    expect(readers.boundary).toMatchObject({ nextSeq: PER_SEGMENT, lagRecords: 150 - PER_SEGMENT });
    expect(readers.near).toMatchObject({ nextSeq: 140, lagRecords: 10, lagBytes: 10 * recordLength(PAYLOAD) });
    expect(f.head).toMatchObject({ segment: 0, lastSeq: 2, nextSeq: 3, position: 64 + 3 * recordLength(10) });
    expect(f.readers).toEqual([]);

    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^orders +not running +149 +0\.0 +0 B\/s +3 +192 KiB$/m);
    expect(text.stdout).toMatch(/^sub\/fills +not running +2 /m);
    expect(text.stdout).toMatch(/^orders\/near +live +no +140 +0\.0 +10 +11 KiB /m);
  }, 30_000);

  test("live: one JSON line per refresh; rates follow the head of a writer child; SIGINT ends it with exit 0", async () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    await using writer = spawnFixture("cli-writer.ts", [dir, String(SEGMENT), "10", "100", "stream"]);
    const pid = Number((await writer.line()).split(" ")[1]);
    await using stat = spawnCommand(["bun", CLI, "stat", dir, "--json", "--interval", "100ms"]);
    const samples = await Promise.all([stat.line(), stat.line(), stat.line()].map(async (l) => JSON.parse(await l).queues[0]));
    stat.kill("SIGINT");
    const end = await stat.exit();
    expect(end.code).toBe(0);
    expect(end.stderr).toBe("");
    expect(samples[0].rates).toBeNull();
    expect(samples[0].head.nextSeq).toBeGreaterThanOrEqual(10);
    for (let i = 1; i < samples.length; i++) {
      const [before, now] = [samples[i - 1], samples[i]];
      expect(now.writer).toMatchObject({ alive: true, pid });
      expect(now.head.nextSeq).toBeGreaterThanOrEqual(before.head.nextSeq);
      expect(now.rates.recordsPerSec > 0).toBe(now.head.nextSeq > before.head.nextSeq);
      expect(now.rates.bytesPerSec > 0).toBe(now.head.position > before.head.position);
    }
    expect(samples[2].head.nextSeq).toBeGreaterThan(samples[0].head.nextSeq);
  }, 30_000);

  test("writes nothing: read-only files and directories, as root and as an unprivileged user, leave every mtime and byte as it was", async () => {
    using tmp = new TempDir();
    const { orders } = writeRoot(tmp.join("root"));
    const all = snapshot(tmp.path);
    for (const [p, kind] of all) chmodSync(p, kind.startsWith("dir") ? 0o555 : 0o444);
    const before = snapshot(tmp.path);
    const nobody = cannotRunAsNobody();
    const runs = await Promise.all([
      cli(["stat", tmp.join("root"), "--once", "--json", "--interval", "50ms"]),
      ...(nobody === null ? [cli(["stat", tmp.join("root"), "--once", "--json", "--interval", "50ms"], AS_NOBODY)] : []),
    ]);
    if (nobody !== null) console.log(`unprivileged run skipped: ${nobody}`);
    for (const r of runs) {
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const q = JSON.parse(r.stdout).queues.find((x: any) => x.dir === orders);
      expect(q.head.lastSeq).toBe(149);
      expect(q.readers.find((x: any) => x.name === "near").lagRecords).toBe(10);
    }
    expect(snapshot(tmp.path)).toEqual(before);
    for (const [p, kind] of all) chmodSync(p, kind.startsWith("dir") ? 0o755 : 0o644);
  }, 30_000);

  test("bad arguments exit 2 with one line", async () => {
    using tmp = new TempDir();
    writeFileSync(tmp.join("file"), "");
    const cases: [string[], RegExp][] = [
      [["stat"], /stat: missing <root\|queue>/],
      [["stat", tmp.join("nope")], /stat: .*nope does not exist/],
      [["stat", tmp.join("file")], /stat: .*file is not a directory/],
      [["stat", tmp.path, "--interval", "0ms"], /--interval must be more than 0/],
      [["stat", tmp.path, "--interval", "soon"], /--interval must be a duration/],
      [["stat", tmp.path, "--bogus"], /unknown option --bogus/],
      [["metrics"], /metrics: missing <root\|queue>/],
      [["metrics", tmp.path, "--listen", "9464"], /--listen must be host:port/],
      [["metrics", tmp.path, "--listen", "localhost:70000"], /--listen must be host:port/],
    ];
    await expectUsageErrors(cases);
  }, 30_000);
});

describe("metrics", () => {
  test("an address in use is a one-line error, exit 2", async () => {
    using tmp = new TempDir();
    using taken = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    expectUsageError(await cli(["metrics", tmp.path, "--listen", `127.0.0.1:${taken.port}`]), new RegExp(`metrics: cannot listen on 127\\.0\\.0\\.1:${taken.port} \\(EADDRINUSE\\)`));
  }, 30_000);

  test("a scrape over HTTP parses as Prometheus text; head seq and reader lag match the queues, and follow new appends", async () => {
    using tmp = new TempDir();
    const { orders, fills } = writeRoot(tmp.path);
    await using server = spawnCommand(["bun", CLI, "metrics", tmp.path, "--listen", "127.0.0.1:0"]);
    const url = (await server.line()).replace(/^listening on /, "");
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    const scrape = async (): Promise<Map<string, { type: string; samples: { value: string; labels: Record<string, string> }[] }>> => {
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
      return new Map(parsePrometheus(await res.text()).map((f) => [f.name, { type: f.type, samples: f.metrics.map((m) => ({ value: m.value, labels: m.labels ?? {} })) }]));
    };
    const value = (m: Awaited<ReturnType<typeof scrape>>, name: string, labels: Record<string, string>): number | undefined => {
      const hit = m.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length);
      return hit === undefined ? undefined : Number(hit.value);
    };

    const first = await scrape();
    expect(first.get("chronicle_queue_appended_records_total")?.type).toBe("COUNTER");
    expect(first.get("chronicle_queue_head_seq")?.type).toBe("GAUGE");
    expect(value(first, "chronicle_queue_up", { queue: orders })).toBe(1);
    expect(value(first, "chronicle_queue_up", { queue: fills })).toBe(1);
    expect(value(first, "chronicle_queue_head_seq", { queue: orders })).toBe(149);
    expect(value(first, "chronicle_queue_head_seq", { queue: fills })).toBe(2);
    expect(value(first, "chronicle_queue_segments", { queue: orders })).toBe(3);
    expect(value(first, "chronicle_queue_disk_bytes", { queue: orders })).toBe(3 * SEGMENT);
    expect(value(first, "chronicle_queue_writer_alive", { queue: orders })).toBe(0);
    expect(value(first, "chronicle_reader_lag_records", { queue: orders, reader: "near" })).toBe(10);
    expect(value(first, "chronicle_reader_lag_bytes", { queue: orders, reader: "near" })).toBe(10 * recordLength(PAYLOAD));
    expect(value(first, "chronicle_reader_lag_records", { queue: orders, reader: "start" })).toBe(150);
    expect(value(first, "chronicle_reader_next_seq", { queue: orders, reader: "boundary" })).toBe(PER_SEGMENT);
    expect(value(first, "chronicle_reader_state", { queue: orders, reader: "near", state: "live" })).toBe(1);
    expect(value(first, "chronicle_reader_state", { queue: orders, reader: "near", state: "dead" })).toBe(0);

    {
      using w = Queue.openPublisher(orders, { segmentSize: SEGMENT, preallocate: false });
      for (let i = 0; i < 5; i++) w.append(1, new Uint8Array(PAYLOAD));
      const during = await scrape();
      expect(value(during, "chronicle_queue_writer_alive", { queue: orders })).toBe(1);
      expect(value(during, "chronicle_queue_writer_epoch", { queue: orders })).toBe(2);
    }
    const after = await scrape();
    expect(value(after, "chronicle_queue_head_seq", { queue: orders })).toBe(154);
    expect(value(after, "chronicle_queue_appended_records_total", { queue: orders })).toBe(155);
    expect(value(after, "chronicle_reader_lag_records", { queue: orders, reader: "near" })).toBe(15);

    expect((await fetch(url.replace(/\/metrics$/, "/other"))).status).toBe(404);
    server.kill("SIGTERM");
    const end = await server.exit();
    expect(end.code).toBe(0);
    expect(end.stderr).toBe("");
  }, 30_000);
});
