import { basename, relative, resolve } from "node:path";
import { RootStats, type QueueSample, type RootSample } from "../../src/index.ts";
import type { Command } from "../command.ts";
import { age, bytes, colour, durationFlag, intFlag, jsonLine, parseArgs, table, UsageError, type ParsedArgs } from "../output.ts";
import { checkDirectory } from "../queueArg.ts";

const usage = `usage: chronicle stat <root|queue> [--once] [--json] [--interval 1s] [--ttl ms] [--max-lag bytes]

A live view of every queue under a directory (or of one queue), refreshed every second like
top: per queue the writer, head seq, append rate (records/s and bytes/s), segments and disk
use; per reader its state, next seq, rate, and lag in records and bytes. Rates are over the
last interval ("-" until there are two samples). Reads control blocks, reader metas and the
record headers appended since the last refresh, through read-only mappings: it writes
nothing and needs no write permission. Ctrl-C stops it.
  --once            print one refresh (two samples an interval apart, for the rates) and exit
  --json            one JSON object per refresh, on one line
  --interval d      time between refreshes: 500ms, 2s, 1m (default 1s)
  --ttl ms          reader heartbeat TTL used to call a reader dead (default 60000)
  --max-lag bytes   lag beyond which a reader is "lagging" (default: none)`;

/** The options stat and metrics share: the directory and the reader verdict policy. */
export function statsSource(argv: string[], valued: string[], switches: string[], name: string): { stats: RootStats; args: ParsedArgs } {
  const args = parseArgs(argv, ["--ttl", "--max-lag", ...valued], switches, 1);
  const arg = args.positional[0];
  if (arg === undefined) throw new UsageError(`${name}: missing <root|queue> argument`);
  const root = resolve(arg);
  checkDirectory(root, arg, name);
  const stats = new RootStats(root, {
    readerTtlMs: intFlag(args, "--ttl", 60_000),
    maxReaderLagBytes: args.flags.has("--max-lag") ? intFlag(args, "--max-lag", 0) : Infinity,
  });
  return { stats, args };
}

async function stat(argv: string[]): Promise<number> {
  const { stats, args } = statsSource(argv, ["--interval"], ["--once", "--json"], "stat");
  const intervalMs = durationFlag(args, "--interval") ?? 1000;
  if (intervalMs <= 0) throw new UsageError("stat: --interval must be more than 0");
  const once = args.flags.has("--once");
  const asJson = args.flags.has("--json");
  const tty = process.stdout.isTTY === true;

  let stop: () => void = () => {};
  const stopped = new Promise<void>((r) => (stop = r));
  let running = true;
  const onSignal = (): void => {
    running = false;
    stop();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    let sample = stats.sample();
    if (once) {
      await Promise.race([Bun.sleep(intervalMs), stopped]);
      sample = stats.sample();
    }
    for (;;) {
      if (asJson) console.log(jsonLine(sample));
      else console.log(`${tty ? "\x1b[H\x1b[2J" : ""}${render(stats.root, sample, intervalMs, once)}${tty ? "" : "\n"}`);
      if (once || !running) break;
      await Promise.race([Bun.sleep(intervalMs), stopped]);
      if (!running) break;
      sample = stats.sample();
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return 0;
}

const perSec = (n: number | null | undefined): string => (n === null || n === undefined ? "-" : n >= 100 ? n.toFixed(0) : n.toFixed(1));

function render(root: string, s: RootSample, intervalMs: number, once: boolean): string {
  const name = (q: QueueSample): string => relative(root, q.dir) || basename(q.dir);
  const lines = [colour("bold", `chronicle stat ${root}  ${new Date(s.timeMs).toISOString()}`) + (once ? "" : colour("dim", `  (every ${intervalMs} ms; Ctrl-C to stop)`))];
  if (s.queues.length === 0 && s.errors.length === 0) lines.push("no queues (a queue is a directory with a control.meta)");
  if (s.queues.length > 0) {
    lines.push("", table(
      ["queue", "writer", "head seq", "records/s", "bytes/s", "segments", "disk"],
      s.queues.map((q) => [
        name(q),
        q.writer.alive ? colour("green", `alive (pid ${q.writer.pid})`) : q.writer.stale ? colour("yellow", "dead (stale lock)") : colour("dim", "not running"),
        String(q.head.lastSeq),
        perSec(q.rates?.recordsPerSec),
        q.rates === null ? "-" : `${bytes(Math.round(q.rates.bytesPerSec))}/s`,
        String(q.segments.count),
        bytes(q.segments.bytes),
      ]),
    ));
  }
  const readers = s.queues.flatMap((q) => q.readers.map((r) => ({ q, r })));
  if (readers.length > 0) {
    const state = (v: string): string => (v === "live" ? colour("green", v) : v === "lagging" ? colour("yellow", v) : colour("red", v));
    lines.push("", table(
      ["reader", "state", "open", "next seq", "records/s", "lag records", "lag bytes", "heartbeat"],
      readers.map(({ q, r }) => [
        `${name(q)}/${r.name}`,
        state(r.state),
        r.open ? "yes" : "no",
        r.nextSeq === null ? "-" : String(r.nextSeq),
        perSec(r.recordsPerSec),
        r.lagRecords === null ? "-" : String(r.lagRecords),
        bytes(r.lagBytes),
        age(r.heartbeatAgeMs),
      ]),
    ));
  }
  for (const e of s.errors) lines.push(colour("red", `${e.dir}: ${e.message}`));
  return lines.join("\n");
}

/** `chronicle stat`. */
export const command: Command = { name: "stat", summary: "live view of queues: append rates, head, disk use, reader lag", usage, run: stat };
