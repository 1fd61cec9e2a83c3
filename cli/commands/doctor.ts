import { rmSync } from "node:fs";
import { resolve } from "node:path";
import { ChronicleError, findQueues, inspectQueue, type QueueInfo } from "../../src/index.ts";
import { colour, durationFlag, intFlag, json, parseArgs, table, UsageError } from "../output.ts";
import { checkDirectory } from "../queueArg.ts";
import type { Command } from "../command.ts";

export const doctorHelp = `usage: chronicle doctor <root> [--fix [--prune-readers-older-than <duration>]] [--json] [--ttl ms] [--max-lag bytes]

Walks a directory tree, finds every queue in it and reports problems, each with a suggested
action: stale writer locks, dead or lagging readers, corrupt metadata (control block, segment
headers, reader metas), leftover temporary files, and invalid segment-named files that writer
recovery set aside (*.corrupt, left for you to examine). Segments eligible for retention are
reported as information, not as a problem. Exit code 0 when no problem remains, 1 when some
do, 2 for bad arguments or a root that does not exist or holds no queue.
  --fix             take only safe actions: remove leftover temp files of queues without a
                    live writer; says what it did. Reader positions are kept, and set-aside
                    files are never removed.
  --prune-readers-older-than <duration>
                    with --fix, also remove the saved positions (metas) of dead readers whose
                    last heartbeat is older than this (500ms, 30s, 10m, 12h, 7d): such a reader
                    starts over from its start option if it ever comes back
  --ttl ms          heartbeat age after which a reader that is not open is dead (default 60000)
  --max-lag bytes   lag beyond which a reader is "lagging" (default: none)
  --json            machine-readable output (findings with kind, severity, detail, action)`;

type Kind = "stale-writer-lock" | "dead-reader" | "lagging-reader" | "corrupt-metadata" | "temp-file" | "set-aside-file" | "retention-eligible";

/** "info" findings are reported but are no problem: they do not make the exit code 1. */
type Severity = "problem" | "info";

interface Finding {
  queue: string;
  kind: Kind;
  severity: Severity;
  detail: string;
  /** What to do about it (or what --fix did). */
  action: string;
  path?: string;
  fixed?: boolean;
}

interface Options {
  policy: { readerTtlMs: number; maxReaderLagBytes: number };
  fix: boolean;
  /** With fix: dead readers whose heartbeat is older than this lose their meta (undefined: none do). */
  pruneReadersMs: number | undefined;
}

export function doctor(argv: string[]): number {
  const args = parseArgs(argv, ["--ttl", "--max-lag", "--prune-readers-older-than"], ["--fix", "--json"], 1);
  const rootArg = args.positional[0];
  if (rootArg === undefined) throw new UsageError("doctor: missing <root> argument");
  const root = resolve(rootArg);
  checkDirectory(root, rootArg, "doctor");
  const opts: Options = {
    policy: {
      readerTtlMs: intFlag(args, "--ttl", 60_000),
      maxReaderLagBytes: args.flags.has("--max-lag") ? intFlag(args, "--max-lag", 0) : Infinity,
    },
    fix: args.flags.has("--fix"),
    pruneReadersMs: durationFlag(args, "--prune-readers-older-than"),
  };
  // Deleting a reader's position is never implied: it takes both flags.
  if (opts.pruneReadersMs !== undefined && !opts.fix) throw new UsageError("doctor: --prune-readers-older-than takes effect only with --fix");

  const started = performance.now();
  let lastProgress = started;
  const queues = findQueues(root);
  // Most likely a mistyped root: "no problems" would hide that.
  if (queues.length === 0) throw new UsageError(`doctor: no chronicle queue under ${rootArg} (a queue is a directory with a control.meta)`);
  const findings: Finding[] = [];
  queues.forEach((dir, i) => {
    findings.push(...examine(dir, opts));
    if (process.stderr.isTTY && performance.now() - lastProgress > 1000) {
      lastProgress = performance.now();
      process.stderr.write(`\rscanned ${i + 1}/${queues.length} queues...`);
    }
  });
  if (lastProgress !== started) process.stderr.write("\n");

  const remaining = findings.filter((f) => f.severity === "problem" && !f.fixed);
  if (args.flags.has("--json")) {
    console.log(json({ root, queues, findings, problems: remaining.length }));
  } else {
    console.log(`${queues.length} queue(s) under ${root}`);
    if (findings.length === 0) console.log(colour("green", "no problems found"));
    else {
      console.log(table(
        ["queue", "problem", "detail", "action"],
        findings.map((f) => [
          f.queue,
          f.severity === "info" ? colour("dim", `${f.kind} (info)`) : colour(f.fixed ? "dim" : "yellow", f.kind),
          f.detail,
          f.fixed ? colour("green", "fixed") : f.action,
        ]),
      ));
      console.log(remaining.length === 0 ? colour("green", "no problems remain") : `${remaining.length} problem(s) remain`);
    }
  }
  return remaining.length > 0 ? 1 : 0;
}

function examine(dir: string, opts: Options): Finding[] {
  const findings: Finding[] = [];
  const problem = (kind: Kind, detail: string, action: string, path?: string): Finding => {
    const f: Finding = { queue: dir, kind, severity: "problem", detail, action, ...(path === undefined ? {} : { path }) };
    findings.push(f);
    return f;
  };
  const remove = (f: Finding, path: string): void => {
    rmSync(path, { force: true });
    f.fixed = true;
  };
  let info: QueueInfo;
  try {
    info = inspectQueue(dir, opts.policy);
  } catch (e) {
    if (!(e instanceof ChronicleError)) throw e;
    problem("corrupt-metadata", e.message, "the queue cannot be opened: restore the file from a backup, or move the queue aside and recreate it", e.path);
    return findings;
  }
  if (info.writer.stale) {
    problem("stale-writer-lock", `writer.lock names pid ${info.writer.pid}, which no longer holds it`, "the writer died: restart it (opening the queue recovers its tail and replaces the record)");
  }
  for (const c of info.segments.corrupt) {
    const action = c.reason.startsWith("segment is not sealed")
      ? "open a writer on the queue (or restart the dead one): its recovery seals the segment and readers move on"
      : "readers stop at this segment: move it aside once no reader needs its records (chronicle does not repair it)";
    problem("corrupt-metadata", c.reason, action, c.path);
  }
  for (const r of info.readers) {
    if (r.state === "corrupt") {
      problem("corrupt-metadata", `reader ${r.name}: no valid slot`, `delete ${r.path} to let reader ${r.name} start over from its start option`, r.path);
    }
    if (r.state === "lagging") {
      problem("lagging-reader", `reader ${r.name} is ${r.lagBytes} bytes behind`, `speed up or restart reader ${r.name}: past --max-lag it holds no segments, and retention may delete its position`, r.path);
    }
    if (r.state === "dead") {
      const f = problem(
        "dead-reader",
        `reader ${r.name}: no heartbeat for ${Math.round(r.heartbeatAgeMs / 1000)} s and not open`,
        `restart reader ${r.name}, or if it is gone for good: --fix --prune-readers-older-than <duration> removes its saved position (meanwhile it holds no segments)`,
        r.path,
      );
      if (opts.fix && opts.pruneReadersMs !== undefined && r.heartbeatAgeMs > opts.pruneReadersMs) remove(f, r.path);
    }
  }
  // A live writer's temp files are work in progress, not leftovers.
  if (!info.writer.alive) {
    for (const path of info.tempFiles) {
      const f = problem("temp-file", path, "left by an interrupted creation: --fix removes it", path);
      if (opts.fix) remove(f, path);
    }
  }
  // Never removed by --fix: what a stray file is, and where it came from, is for an operator to tell.
  for (const path of info.setAsideFiles) {
    problem("set-aside-file", `${path}: named like a segment but not a valid one; moved aside by writer recovery`, "examine it, then delete it (doctor never removes it)", path);
  }
  if (info.deletable.length > 0) {
    findings.push({
      queue: dir,
      kind: "retention-eligible",
      severity: "info",
      detail: `segments ${info.deletable[0]}..${info.deletable[info.deletable.length - 1]} (${info.deletable.length}) are needed by no live reader`,
      action: "the writer's cleanup() (or autoCleanup: true) reclaims them",
    });
  }
  return findings;
}

/** `chronicle doctor`. */
export const command: Command = { name: "doctor", summary: "find problems in every queue under a directory (--fix for safe repairs)", usage: doctorHelp, run: doctor };
