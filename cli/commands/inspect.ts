import { inspectQueue, type QueueInfo } from "../../src/index.ts";
import { age, bytes, colour, intFlag, json, parseArgs, table } from "../output.ts";
import { queueDir } from "../queueArg.ts";
import type { Command } from "../command.ts";

export const inspectHelp = `usage: chronicle inspect <queue> [--json] [--ttl ms] [--max-lag bytes]

Shows a queue's format, writer, head, segments and readers (with their committed position,
lag, heartbeat age and state: live, dead, lagging or corrupt).
  --ttl ms          reader heartbeat TTL used to call a reader dead (default 60000)
  --max-lag bytes   lag beyond which a reader is "lagging" (default: none)
  --json            machine-readable output`;

export function inspect(argv: string[]): number {
  const args = parseArgs(argv, ["--ttl", "--max-lag"], ["--json"], 1);
  const dir = queueDir(args.positional[0], "inspect");
  const info = inspectQueue(dir, {
    readerTtlMs: intFlag(args, "--ttl", 60_000),
    maxReaderLagBytes: args.flags.has("--max-lag") ? intFlag(args, "--max-lag", 0) : Infinity,
  });
  console.log(args.flags.has("--json") ? json(info) : render(info));
  return 0;
}

function render(q: QueueInfo): string {
  const w = q.writer;
  // A clean close clears the lock record: its pid is gone, but the epoch and the last heartbeat
  // (written at close) tell which writer it was and when it closed.
  const writer = w.alive
    ? colour("green", `alive (pid ${w.pid})`)
    : w.stale
      ? colour("yellow", `not running (stale lock, last pid ${w.pid})`)
      : w.closed
        ? colour("dim", `closed${w.heartbeatNs > 0n ? ` at ${new Date(Number(w.heartbeatNs / 1_000_000n)).toISOString()}` : ""} (pid not recorded)`)
        : colour("dim", "never opened");
  const lines = [
    `queue       ${q.dir}`,
    `format      v${q.formatVersion}, segment size ${bytes(q.segmentSize)}`,
    `writer      ${writer}, epoch ${w.epoch}, heartbeat ${age(w.heartbeatAgeMs)} ago`,
    `head        segment ${q.head.segment} offset ${q.head.offset}, last seq ${q.head.lastSeq}`,
    `sleepers    ${q.waitersPending === null ? "not tracked (format v1)" : `${q.waitersPending} registered`}`,
    `segments    ${q.segments.count} (${bytes(q.segments.bytes)}), oldest ${q.segments.oldest}, newest ${q.segments.newest}` +
      (q.deletable.length > 0 ? `, ${q.deletable.length} eligible for retention` : ""),
  ];
  // A running writer's temp files (the next segment being prepared) are work in progress.
  if (q.tempFiles.length > 0) lines.push(`temp files  ${q.tempFiles.length} ${w.alive ? "in progress (writer running)" : "leftover"}`);
  if (q.setAsideFiles.length > 0) lines.push(`set aside   ${q.setAsideFiles.length} invalid segment-named file(s): ${q.setAsideFiles.join(", ")}`);
  lines.push("");
  if (q.readers.length === 0) {
    lines.push("readers     none");
  } else {
    const state = (s: string): string => (s === "live" ? colour("green", s) : s === "lagging" ? colour("yellow", s) : colour("red", s));
    lines.push(table(
      ["reader", "segment", "offset", "lag", "lag records", "heartbeat", "open", "state"],
      q.readers.map((r) => [
        r.name,
        r.position ? String(r.position.segment) : "-",
        r.position ? String(r.position.offset) : "-",
        r.position ? bytes(r.lagBytes) : "-",
        r.lagRecords === null ? "-" : String(r.lagRecords),
        age(r.heartbeatAgeMs),
        r.open ? "yes" : "no",
        state(r.state),
      ]),
    ));
  }
  return lines.join("\n");
}

/** `chronicle inspect`. */
export const command: Command = { name: "inspect", summary: "state of one queue: writer, head, segments, readers", usage: inspectHelp, run: inspect };
