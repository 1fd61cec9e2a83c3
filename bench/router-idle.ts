/**
 * What an idle router costs, and how fast it attaches a new strategy.
 *
 *   bun run bench/router-idle.ts [--idle-ms 10000] [--strategies 50] [--gap-ms 50] [--router path]
 *
 * Runs examples/router.ts (or the script given, e.g. an older version) as a child process on a fresh bus root and measures:
 * - idle CPU: utime + stime of the child (from /proc/<pid>/stat) over --idle-ms with no strategy
 *   at all, then again with --strategies strategies attached that send nothing (their queues are
 *   open in this process, which writes no LEASE, so nothing but the router's own timers and
 *   heartbeats can wake it);
 * - READY -> attached: for each of --strategies strategies, one at a time with --gap-ms of quiet
 *   before each (so the router is asleep), the wall-clock time from READY in place (markReady
 *   returned; its own cost is shown apart) until the router's "added" event line, stamped by the
 *   router right after it attached the strategy's reader (both are the host's wall clock).
 *
 * Finally the router is stopped with SIGTERM and must exit 0 with its summary.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BusLayout, Queue, markReady, type QueueWriter } from "../src/index.ts";
import { printTable } from "./output.ts";
import { distribution } from "./stats.ts";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const idleMs = flag("idle-ms", 10_000);
const count = flag("strategies", 50);
const gapMs = flag("gap-ms", 50);
const routerScript = args.includes("--router") ? args[args.indexOf("--router") + 1]! : join(import.meta.dir, "..", "examples", "router.ts");

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const USER_HZ = 100;

/** utime + stime of `pid` in seconds (fields 14 and 15 of /proc/<pid>/stat, after the command name). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

const root = mkdtempSync(join(tmpdir(), "chronicle-bench-router-"));
const layout = new BusLayout(root);
const router = Bun.spawn(["bun", routerScript, root], { stdout: "pipe", stderr: "inherit" });
const lines = router.stdout.getReader();
const decoder = new TextDecoder();
let buffered = "";

/** The router's next stdout line, parsed. */
async function nextLine(): Promise<Record<string, unknown>> {
  for (;;) {
    const nl = buffered.indexOf("\n");
    if (nl >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      return JSON.parse(line) as Record<string, unknown>;
    }
    const { value, done } = await lines.read();
    if (done) throw new Error(`router exited (${await router.exited}) before printing a line`);
    buffered += decoder.decode(value, { stream: true });
  }
}

async function idleCpu(label: string): Promise<string[]> {
  const before = cpuSeconds(router.pid);
  const t0 = performance.now();
  await Bun.sleep(idleMs);
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = cpuSeconds(router.pid) - before;
  return [label, `${wallS.toFixed(1)} s`, `${(cpuS * 1000).toFixed(0)} ms`, `${((100 * cpuS) / wallS).toFixed(2)} %`];
}

const writers: QueueWriter[] = [];
try {
  // Let the router start (Bun, its module graph, the first scan) before measuring it.
  await Bun.sleep(1500);
  const cpuRows = [await idleCpu("no strategy")];

  const latencyMs: number[] = [];
  const markReadyMs: number[] = [];
  for (let i = 0; i < count; i++) {
    const id = `s${String(i).padStart(3, "0")}`;
    const { ordersOut } = layout.strategyEndpoints(id);
    writers.push(Queue.openPublisher(ordersOut, { segmentSize: 1 << 16, preallocate: false }));
    await Bun.sleep(gapMs);
    const before = performance.now();
    markReady(ordersOut);
    // READY is in place once markReady returns (its rename is the last step).
    const readyAt = performance.timeOrigin + performance.now();
    markReadyMs.push(performance.now() - before);
    for (;;) {
      const ev = await nextLine();
      if (ev.event === "added" && ev.strategy === id) {
        latencyMs.push((ev.atMs as number) - readyAt);
        break;
      }
    }
  }
  cpuRows.push(await idleCpu(`${count} strategies attached, silent`));

  router.kill("SIGTERM");
  const code = await router.exited;
  let summary: Record<string, unknown> = {};
  for (;;) {
    try {
      summary = await nextLine();
    } catch {
      break;
    }
    if (summary.routed !== undefined) break;
  }
  if (code !== 0 || summary.routed === undefined) throw new Error(`router exited ${code} without its summary`);

  console.log(`\nidle router CPU (examples/router.ts, utime + stime from /proc/<pid>/stat)\n`);
  printTable(["state", "wall", "CPU", "of one core"], cpuRows);
  const d = distribution(Float64Array.from(latencyMs));
  console.log(`\nREADY -> attached, ${latencyMs.length} strategies, one at a time after ${gapMs} ms of quiet\n`);
  const m = distribution(Float64Array.from(markReadyMs));
  printTable(["", "p50", "p90", "p99", "max"], [
    ["READY renamed into place -> router attached", ...[d.p50, d.p90, d.p99, d.max].map((ms) => `${ms.toFixed(2)} ms`)],
    ["markReady itself (temp file + rename)", ...[m.p50, m.p90, m.p99, m.max].map((ms) => `${ms.toFixed(2)} ms`)],
  ]);
  console.log(`\nrouter exited ${code} on SIGTERM, ${(summary.attached as string[]).length} strategies attached at the end`);
} finally {
  if (router.exitCode === null) router.kill("SIGKILL");
  for (const w of writers) w.close();
  rmSync(root, { recursive: true, force: true });
}
