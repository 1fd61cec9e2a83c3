/**
 * `chronicle tail --from <seq|time|-N>` / `-n N` (by seek), tail -f ending quietly when stdout
 * closes (a real pipe into `head`), and `chronicle pub`, all run as real child processes.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { Queue } from "../src/index.ts";
import { readRecords } from "./helpers/queue.ts";
import { runToEnd, spawnFixture, spawnScript } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

const CLI = join(import.meta.dir, "..", "cli", "main.ts");
const SEGMENT = 64 << 10;
const T0 = 1_764_000_000_000_000_000n;
const SECOND = 1_000_000_000n;

function cli(args: string[]): ReturnType<typeof runToEnd> {
  return runToEnd(["bun", CLI, ...args]);
}

/** `cli` with `input` on its stdin. */
async function cliWithStdin(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", CLI, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  proc.stdin.write(input);
  await proc.stdin.end();
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const seqsOf = (stdout: string): number[] => stdout.trimEnd().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l).seq);

/**
 * 3000 records "msg <seq>", one second apart from T0, in 64 KiB segments, of which retention
 * removed all but the newest then (about 2540 of them); then 10 more.
 */
function retainedQueue(dir: string): { oldest: number; next: number } {
  using w = Queue.openPublisher(dir, { segmentSize: SEGMENT, preallocate: false });
  const at = (seq: number): bigint => T0 + BigInt(seq) * SECOND;
  for (let i = 0; i < 3000; i++) w.append(1, new TextEncoder().encode(`msg ${i}`), at(i));
  w.cleanup();
  for (let i = 3000; i < 3010; i++) w.append(1, new TextEncoder().encode(`msg ${i}`), at(i));
  const oldest = readRecords(dir, (m) => m.seq)[0]!;
  return { oldest, next: w.nextSeq };
}

const iso = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();

describe("tail --from and -n, by seek", () => {
  test("--from <seq>, -N, -n N and an ISO time start where asked; a start before the retained range or past the head says so on stderr", async () => {
    using tmp = new TempDir();
    const { oldest, next } = retainedQueue(tmp.path);
    expect(oldest).toBeGreaterThan(1000);
    const timeOf = (seq: number): bigint => T0 + BigInt(seq) * SECOND;
    const cases: [string[], number[], RegExp | ""][] = [
      [["--from", String(oldest + 7), "--limit", "3"], [oldest + 7, oldest + 8, oldest + 9], ""],
      [["--from", "5", "--limit", "2"], [oldest, oldest + 1], new RegExp(`seq 5 is older than the oldest retained record; starting at the oldest, seq ${oldest}\\n$`)],
      [["--from", String(next + 5)], [], new RegExp(`seq ${next + 5} is past the head \\(the next record will be seq ${next}\\)\\n$`)],
      [["--from", String(next)], [], ""],
      [["--from", "-3"], [next - 3, next - 2, next - 1], ""],
      [["-n", "2"], [next - 2, next - 1], ""],
      [["-n", "0"], [], ""],
      [["-n", "100000", "--limit", "1"], [oldest], ""],
      // Half a second after a record: the next one; the exact time of a record: that one.
      [["--from", iso(timeOf(oldest + 20) + SECOND / 2n).replace(".500Z", ".5Z"), "--limit", "1"], [oldest + 21], ""],
      [["--from", iso(timeOf(oldest + 20)), "--limit", "1"], [oldest + 20], ""],
      [["--from", iso(timeOf(oldest + 20)).replace("Z", "+00:00"), "--limit", "1"], [oldest + 20], ""],
      [["--from", iso(timeOf(oldest - 100)), "--limit", "1"], [oldest], new RegExp(`.+ is before the oldest retained record; starting at the oldest, seq ${oldest} \\(`)],
      [["--from", iso(timeOf(next + 100))], [], /no record at or after .* yet \(the next record will be seq \d+\)/],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(["tail", tmp.path, "--json", ...args])));
    runs.forEach((r, i) => {
      const [args, seqs, stderr] = cases[i]!;
      expect({ args, code: r.code, seqs: seqsOf(r.stdout) }).toEqual({ args, code: 0, seqs });
      if (stderr === "") expect({ args, stderr: r.stderr }).toEqual({ args, stderr: "" });
      else expect(r.stderr).toMatch(new RegExp(`^chronicle tail: ${stderr.source}`));
    });
  });

  test("-n N -f prints the last N, then follows", async () => {
    using tmp = new TempDir();
    const { next } = retainedQueue(tmp.path);
    using w = Queue.openPublisher(tmp.path, { preallocate: false });
    await using tail = spawnScript(CLI, ["tail", tmp.path, "-n", "2", "-f", "--json"]);
    expect(JSON.parse(await tail.line()).seq).toBe(next - 2);
    expect(JSON.parse(await tail.line()).seq).toBe(next - 1);
    w.append(3, new TextEncoder().encode("later"));
    expect(JSON.parse(await tail.line())).toMatchObject({ seq: next, typeId: 3, text: "later" });
    tail.kill("SIGTERM");
    expect((await tail.exit()).code).toBe(0);
  });

  test("bad --from / -n values are usage errors", async () => {
    using tmp = new TempDir();
    retainedQueue(tmp.path);
    const cases: [string[], RegExp][] = [
      [["--from", "soon"], /--from must be earliest, latest or a seq, -N \(the last N\) or an ISO-8601 time, got soon/],
      [["--from", "2026-13-45"], /--from must be/],
      [["--from", "1.5"], /--from must be/],
      [["-n", "-1"], /-n must be a non-negative integer/],
      [["-n", "2", "--from", "3"], /give --from or -n, not both/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(["tail", tmp.path, ...args]);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(r.stderr).toMatch(message);
    }
  });
});

describe("tail -f exits quietly when its stdout is closed", () => {
  /** `tail -f <q> | head -n 3` in bash; returns head's lines, tail's exit status and tail's stderr. */
  async function pipeIntoHead(dir: string): Promise<{ lines: string[]; status: string; stderr: string }> {
    using tmp = new TempDir();
    const err = tmp.join("tail.err");
    const script = `bun "${CLI}" tail "${dir}" -f 2>"${err}" | head -n 3; echo "status \${PIPESTATUS[0]}"`;
    const r = await runToEnd(["bash", "-c", script]);
    const lines = r.stdout.trimEnd().split("\n");
    return { lines: lines.slice(0, -1), status: lines[lines.length - 1]!, stderr: await Bun.file(err).text() };
  }

  // The bound is the test timeout: a tail that kept running would keep bash waiting for the pipeline.
  test("records streaming in: the write after head exits fails with EPIPE and tail ends with status 0", async () => {
    using tmp = new TempDir();
    await using writer = spawnFixture("cli-writer.ts", [tmp.path, String(SEGMENT), "5", "10", "stream"]);
    expect(await writer.line()).toStartWith("ready");
    const end = await pipeIntoHead(tmp.path);
    expect(end.lines).toHaveLength(3);
    expect(end.lines[0]).toStartWith("0  ");
    expect(end.status).toBe("status 0");
    expect(end.stderr).toBe("");
  }, 30_000);

  test("an idle queue: tail notices the closed pipe while it waits and ends with status 0", async () => {
    using tmp = new TempDir();
    {
      using w = Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false });
      for (let i = 0; i < 5; i++) w.append(1, new TextEncoder().encode(`idle ${i}`));
    }
    const end = await pipeIntoHead(tmp.path);
    expect(end.lines).toEqual([0, 1, 2].map((i) => expect.stringContaining(`"idle ${i}"`)));
    expect(end.status).toBe("status 0");
    expect(end.stderr).toBe("");
  }, 30_000);
});

describe("pub", () => {
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);
  const stored = (dir: string): { seq: number; typeId: number; payload: number[] }[] =>
    readRecords(dir, (m) => ({ seq: m.seq, typeId: m.typeId, payload: [...m.payload] }));

  test("messages from arguments and stdin lines, --type, --json, --hex and --file; prints the seqs", async () => {
    using tmp = new TempDir();
    using files = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    const file = files.join("payload.bin");
    writeFileSync(file, new Uint8Array([0, 1, 2, 255]));
    const runs = [
      await cli(["pub", tmp.path, "hello", "wörld"]),
      await cliWithStdin(["pub", tmp.path, "--type", "7"], "line one\n\nline two\r\nlast without newline"),
      await cli(["pub", tmp.path, "--json", '{"a":[1,2]}']),
      await cli(["pub", tmp.path, "--hex", "00 ff", "6869", "--type", "9"]),
      await cli(["pub", tmp.path, "--file", file]),
    ];
    expect(runs.map((r) => [r.code, r.stdout, r.stderr])).toEqual([
      [0, "seq 0..1 (2 records)\n", ""],
      [0, "seq 2..4 (3 records)\n", ""],
      [0, "seq 5\n", ""],
      [0, "seq 6..7 (2 records)\n", ""],
      [0, "seq 8\n", ""],
    ]);
    expect(stored(tmp.path)).toEqual([
      { seq: 0, typeId: 1, payload: [...text("hello")] },
      { seq: 1, typeId: 1, payload: [...text("wörld")] },
      { seq: 2, typeId: 7, payload: [...text("line one")] },
      { seq: 3, typeId: 7, payload: [...text("line two")] },
      { seq: 4, typeId: 7, payload: [...text("last without newline")] },
      { seq: 5, typeId: 1, payload: [...text('{"a":[1,2]}')] },
      { seq: 6, typeId: 9, payload: [0x00, 0xff] },
      { seq: 7, typeId: 9, payload: [0x68, 0x69] },
      { seq: 8, typeId: 1, payload: [0, 1, 2, 255] },
    ]);
  });

  test("bad input writes nothing: invalid JSON or hex, a type out of range, --file with messages", async () => {
    using tmp = new TempDir();
    Queue.openPublisher(tmp.path, { segmentSize: SEGMENT, preallocate: false }).close();
    const cases: [string[], RegExp][] = [
      [["--json", '{"ok":1}', "{broken"], /--json: not JSON: "\{broken"/],
      [["--hex", "abc"], /--hex: not pairs of hex digits/],
      [["--hex", "zz"], /--hex: not pairs of hex digits/],
      [["--type", "65535", "x"], /--type must be at most 65534/],
      [["--file", "/nonexistent/file"], /--file: \/nonexistent\/file does not exist/],
      [["--file", "/etc/hostname", "extra"], /--file takes no messages/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(["pub", tmp.path, ...args]);
      expect({ args, code: r.code, stdout: r.stdout }).toEqual({ args, code: 2, stdout: "" });
      expect(r.stderr).toMatch(message);
    }
    expect(stored(tmp.path)).toEqual([]);
  });

  test("refuses a queue whose writer is alive in another process, with a one-line message naming its pid", async () => {
    using tmp = new TempDir();
    await using writer = spawnFixture("cli-writer.ts", [tmp.path, String(SEGMENT), "3", "10"]);
    const ready = await writer.line();
    const pid = ready.split(" ")[1];
    const r = await cli(["pub", tmp.path, "hello"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`chronicle pub: the queue's writer is alive (pid ${pid}); a queue has one writer: publish through it, or stop it first (${tmp.path})\n`);
    await writer.killAndWait();
    expect(stored(tmp.path).map((x) => x.seq)).toEqual([0, 1, 2]);
    // With that writer gone (killed), pub may append.
    expect((await cli(["pub", tmp.path, "after"])).stdout).toBe("seq 3\n");
  });

  test("a missing queue is an error unless --create", async () => {
    using tmp = new TempDir();
    const q = tmp.join("new-queue");
    const refused = await cli(["pub", q, "x"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/pub: .*new-queue does not exist/);
    const created = await cli(["pub", q, "--create", "first"]);
    expect([created.code, created.stdout, created.stderr]).toEqual([0, "seq 0\n", ""]);
    expect(stored(q)).toEqual([{ seq: 0, typeId: 1, payload: [...text("first")] }]);
  });
});
