import { readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ChronicleError, inspectQueue, isQueueDirectory, type QueueInfo } from "../../src/index.ts";
import { READERS_DIR } from "../../src/queue/layout/index.ts";
import { colour, intFlag, json, parseArgs, table, UsageError } from "../output.ts";
import { checkDirectory } from "../queueArg.ts";

export const doctorHelp = `usage: chronicle doctor <root> [--fix] [--json] [--ttl ms] [--max-lag bytes]

Walks a directory tree, finds every queue in it and reports: stale writer locks, dead or
lagging readers, corrupt metadata (control block, segment headers, reader metas), leftover
temporary files, and segments eligible for retention. Exit code 1 when problems remain.
  --fix   take only safe actions: remove leftover temp files of queues without a live writer,
          and remove the metas of dead readers; says what it did`;

type Kind = "stale-writer-lock" | "dead-reader" | "lagging-reader" | "corrupt-metadata" | "temp-file" | "retention-eligible";

interface Finding {
  queue: string;
  kind: Kind;
  detail: string;
  path?: string;
  fixed?: boolean;
}

export function doctor(argv: string[]): number {
  const args = parseArgs(argv, ["--ttl", "--max-lag"], ["--fix", "--json"], 1);
  const rootArg = args.positional[0];
  if (rootArg === undefined) throw new UsageError("doctor: missing <root> argument");
  const root = resolve(rootArg);
  checkDirectory(root, rootArg, "doctor");
  const policy = {
    readerTtlMs: intFlag(args, "--ttl", 60_000),
    maxReaderLagBytes: args.flags.has("--max-lag") ? intFlag(args, "--max-lag", 0) : Infinity,
  };
  const fix = args.flags.has("--fix");

  const started = performance.now();
  let lastProgress = started;
  const queues = findQueues(root);
  const findings: Finding[] = [];
  queues.forEach((dir, i) => {
    findings.push(...examine(dir, policy, fix));
    if (process.stderr.isTTY && performance.now() - lastProgress > 1000) {
      lastProgress = performance.now();
      process.stderr.write(`\rscanned ${i + 1}/${queues.length} queues...`);
    }
  });
  if (lastProgress !== started) process.stderr.write("\n");

  const remaining = findings.filter((f) => !f.fixed);
  if (args.flags.has("--json")) {
    console.log(json({ root, queues, findings, problems: remaining.length }));
  } else {
    console.log(`${queues.length} queue(s) under ${root}`);
    if (findings.length === 0) console.log(colour("green", "no problems found"));
    else {
      console.log(table(
        ["queue", "problem", "detail", "action"],
        findings.map((f) => [f.queue, colour(f.fixed ? "dim" : "yellow", f.kind), f.detail, f.fixed ? colour("green", "fixed") : ""]),
      ));
    }
  }
  return remaining.length > 0 ? 1 : 0;
}

/** Queue directories under `root` (included), sorted. */
function findQueues(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    if (isQueueDirectory(dir)) out.push(dir);
    for (const name of names) {
      const p = join(dir, name);
      try {
        if (statSync(p).isDirectory() && name !== READERS_DIR) walk(p);
      } catch {
        // Raced with a deletion: nothing to examine there.
      }
    }
  };
  walk(root);
  return out.sort();
}

function examine(dir: string, policy: { readerTtlMs: number; maxReaderLagBytes: number }, fix: boolean): Finding[] {
  const findings: Finding[] = [];
  let info: QueueInfo;
  try {
    info = inspectQueue(dir, policy);
  } catch (e) {
    if (!(e instanceof ChronicleError)) throw e;
    return [{ queue: dir, kind: "corrupt-metadata", detail: e.message, path: e.path }];
  }
  if (info.writer.stale) findings.push({ queue: dir, kind: "stale-writer-lock", detail: `writer.lock names pid ${info.writer.pid}, which no longer holds it` });
  for (const c of info.segments.corrupt) findings.push({ queue: dir, kind: "corrupt-metadata", detail: c.reason, path: c.path });
  for (const r of info.readers) {
    if (r.state === "corrupt") findings.push({ queue: dir, kind: "corrupt-metadata", detail: `reader ${r.name}: no valid slot`, path: r.path });
    if (r.state === "lagging") findings.push({ queue: dir, kind: "lagging-reader", detail: `reader ${r.name} is ${r.lagBytes} bytes behind`, path: r.path });
    if (r.state === "dead") {
      const f: Finding = { queue: dir, kind: "dead-reader", detail: `reader ${r.name}: no heartbeat for ${Math.round(r.heartbeatAgeMs / 1000)} s and not open`, path: r.path };
      if (fix) {
        rmSync(r.path, { force: true });
        f.fixed = true;
      }
      findings.push(f);
    }
  }
  // A live writer's temp files are work in progress, not leftovers.
  if (!info.writer.alive) {
    for (const path of info.tempFiles) {
      const f: Finding = { queue: dir, kind: "temp-file", detail: path, path };
      if (fix) {
        rmSync(path, { force: true });
        f.fixed = true;
      }
      findings.push(f);
    }
  }
  if (info.deletable.length > 0) {
    findings.push({ queue: dir, kind: "retention-eligible", detail: `segments ${info.deletable[0]}..${info.deletable[info.deletable.length - 1]} (${info.deletable.length}) are needed by no live reader` });
  }
  return findings;
}
