/**
 * The demo: a feed, strategies and a router as separate processes on one bus root. Starts the
 * feed, strategies "alpha" and "beta" and the router; adds "gamma" while running; stops "beta"
 * and removes its directory; then stops everything and prints a summary (messages per process,
 * order -> ack latency percentiles, the router's discovery events).
 *
 *   bun run demo [busRoot] [--duration ms]
 *
 * busRoot defaults to this user's $XDG_RUNTIME_DIR/chronicle-demo or <tmp>/chronicle-<uid>/demo (recreated each run). The last line of
 * output is the summary as JSON. Exits 1 if the run did not behave as expected.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BusLayout, defaultUserPath } from "../src/index.ts";
import { flag } from "./codec.ts";

interface Proc {
  name: string;
  proc: ReturnType<typeof Bun.spawn>;
  lines: Promise<string[]>;
}

const args = process.argv.slice(2);
const root = args[0] && !args[0].startsWith("--") ? args[0] : defaultUserPath("demo");
const duration = flag(args, "duration", 4000);
const here = import.meta.dir;

function start(name: string, script: string, extra: string[] = []): Proc {
  const proc = Bun.spawn(["bun", join(here, script), root, ...extra], { stdout: "pipe", stderr: "inherit" });
  const lines = new Response(proc.stdout as ReadableStream).text().then((t) => t.split("\n").filter((l) => l.length > 0));
  return { name, proc, lines };
}

async function stopProc(p: Proc): Promise<Record<string, unknown>[]> {
  p.proc.kill("SIGTERM");
  const code = await p.proc.exited;
  if (code !== 0) throw new Error(`${p.name} exited with ${code}`);
  return (await p.lines).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const last = (records: Record<string, unknown>[]): Record<string, unknown> => records[records.length - 1] ?? {};

rmSync(root, { recursive: true, force: true });
console.log(`bus root: ${root}  (duration ${duration} ms)`);
const feed = start("feed", "feed.ts", ["--rate", "20000"]);
const router = start("router", "router.ts");
const strategies = new Map<string, Proc>();
for (const id of ["alpha", "beta"]) strategies.set(id, start(`strategy ${id}`, "strategy.ts", [id]));

await Bun.sleep(duration * 0.3);
console.log("+ adding strategy gamma");
strategies.set("gamma", start("strategy gamma", "strategy.ts", ["gamma"]));

await Bun.sleep(duration * 0.3);
console.log("- stopping strategy beta and removing its endpoints");
const betaSummary = last(await stopProc(strategies.get("beta")!));
strategies.delete("beta");
rmSync(new BusLayout(root).strategyDir("beta"), { recursive: true, force: true });

await Bun.sleep(duration * 0.4);
const summaries: Record<string, Record<string, unknown>> = { beta: betaSummary };
for (const [id, p] of strategies) summaries[id] = last(await stopProc(p));
await Bun.sleep(100);
const feedSummary = last(await stopProc(feed));
const routerRecords = await stopProc(router);
const routerSummary = last(routerRecords);

console.log("\nprocess          messages");
console.log(`feed             ${feedSummary.ticks} ticks published`);
type Percentiles = { p50: number | null; p99: number | null; max: number | null };
const us = (p: Percentiles): string => `p50 ${p.p50?.toFixed(1) ?? "-"} p99 ${p.p99?.toFixed(1) ?? "-"} max ${p.max?.toFixed(1) ?? "-"}`;
for (const id of ["alpha", "beta", "gamma"]) {
  const s = summaries[id] as { ticksSeen: number; orders: number; acks: number; ackLatencyUs: Percentiles; tickAgeUs: Percentiles };
  console.log(`strategy ${id.padEnd(7)} ${s.ticksSeen} ticks read, ${s.orders} orders sent, ${s.acks} acks`);
  console.log(`                 order->ack µs ${us(s.ackLatencyUs)}; tick age at read µs ${us(s.tickAgeUs)}`);
}
console.log(`router           ${routerSummary.routed} orders routed ${JSON.stringify(routerSummary.perStrategy)}`);
console.log(`discovery events ${(routerSummary.events as string[]).join(", ")}`);
console.log(`
How to read the latencies: order->ack is the time from a strategy appending an order to it
reading the router's ack, through two queues and two other processes. It includes queueing:
a strategy reads acks merged with the feed's ticks in timestamp order, so an ack waits until
every earlier tick is processed, and the router waits its turn for a core too (five processes
and ${navigator.hardwareConcurrency} cores here; the feed publishes 20,000 ticks/s). "Tick age at read" is how far behind
the feed a strategy ran: when its p99 is close to the order->ack p99, the tail is that backlog,
not wake-up latency. A strategy that starts or stops mid-run (gamma, beta) also reads a burst
of messages at once. The wake-up latency of a reader that is waiting is measured alone, with
its spread, by bun run bench:latency (docs/BENCHMARKS.md).
`);

const events = routerSummary.events as string[];
const ok =
  ["added alpha", "added beta", "added gamma", "removed beta"].every((e) => events.includes(e)) &&
  ["alpha", "gamma"].every((id) => (summaries[id] as { acks: number }).acks > 0);
console.log(JSON.stringify({ ok, feed: feedSummary, strategies: summaries, router: routerSummary }));
process.exit(ok ? 0 : 1);
