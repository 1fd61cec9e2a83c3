/**
 * chronicle against the alternatives, side by side on this machine.
 *
 *   bun run bench:compare                    full run (3 runs of everything, ~15 min)
 *   bun run bench:compare --quick            short run (2 runs, fewer messages, ~1-2 min)
 *   bun bench/compare/main.ts --report-only  rewrite the report and chart from the JSON
 *   bun bench/compare/main.ts --quick --only=uds,sqlite   a subset, printed only (nothing written)
 *
 * Every measurement is a fresh pair of processes (A measures, its child B sends or echoes; see
 * peer.ts) with fresh files. Runs are interleaved (run 1 of everything, then run 2, ...) so that
 * load drift on a shared machine hits every transport alike. Writes bench/results/compare.json,
 * the block between the compare markers in docs/BENCHMARKS.md, and docs/compare-latency.svg.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { renderMarkdown, renderTables, updateDoc } from "./report.ts";
import { summarize, type CompareResults, type Machine, type Method, type RunRecord, type Series, type TransportInfo } from "./results.ts";
import { renderLatencyChart } from "./svg.ts";
import { TRANSPORTS } from "./transports/index.ts";
import type { MeasureId, RunSpec, Service, Transport } from "./types.ts";

const REPO = join(import.meta.dir, "..", "..");
const RESULTS = join(REPO, "bench", "results", "compare.json");
const DOC = join(REPO, "docs", "BENCHMARKS.md");
const CHART = join(REPO, "docs", "compare-latency.svg");
const PEER = join(import.meta.dir, "peer.ts");

const SIZES = [64, 256, 1024];
const MEASURES: MeasureId[] = ["oneWay", "roundTrip", "throughput"];
const MEASURE_NAMES: Record<MeasureId, string> = { oneWay: "one-way", roundTrip: "round trip", throughput: "throughput" };

// Warm-ups are long enough for the JIT to finish tiering up the hot loops (a few thousand
// iterations); short ones make the fast transports look several times slower than they are.
const FULL: Method = {
  runs: 3,
  sizes: SIZES,
  oneWay: { messages: 2_000, warmup: 500, intervalMs: 1 },
  roundTrip: { messages: 2_000, warmup: 2_000 },
  throughput: { messages: 500_000, warmup: 50_000 },
  settleMs: 150,
};
const QUICK: Method = {
  runs: 2,
  sizes: SIZES,
  oneWay: { messages: 300, warmup: 50, intervalMs: 1 },
  roundTrip: { messages: 500, warmup: 100 },
  throughput: { messages: 20_000, warmup: 2_000 },
  settleMs: 150,
};

/** Generous "did not hang" limits per run; process A gives up a little earlier on its own. */
function timeoutMs(method: Method, measure: MeasureId): number {
  switch (measure) {
    case "oneWay":
      return 30_000 + (method.oneWay.messages + method.oneWay.warmup) * (method.oneWay.intervalMs + 10);
    case "roundTrip":
      return 30_000 + (method.roundTrip.messages + method.roundTrip.warmup) * 20;
    case "throughput":
      return 60_000 + (method.throughput.messages + method.throughput.warmup) * 0.5;
  }
}

function machine(root: string): Machine {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "unknown";
  // The mount with the longest prefix of the temp dir holds our files.
  let tempFs = "unknown";
  let best = -1;
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const [, mount, type] = line.split(" ");
    if (mount !== undefined && (root === mount || root.startsWith(mount === "/" ? "/" : `${mount}/`)) && mount.length > best) {
      best = mount.length;
      tempFs = type;
    }
  }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    kernel: release(),
    arch: process.arch,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    bun: Bun.version,
    tempDir: tmpdir(),
    tempFs,
    loadStart: loadavg().map((x) => Math.round(x * 100) / 100),
    loadEnd: [],
  };
}

/** Process A of the current run, killed with its group (B included) on timeout or interrupt. */
let current: Subprocess | null = null;

function killGroup(proc: Subprocess): void {
  try {
    process.kill(-proc.pid, "SIGKILL");
  } catch {
    // ESRCH: the whole group has exited already.
  }
}

function groupAlive(proc: Subprocess): boolean {
  try {
    process.kill(-proc.pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function runOne(spec: RunSpec, timeout: number): Promise<RunRecord> {
  const started = performance.now();
  // detached: A leads a new process group, so B goes with it when the group is killed.
  const proc = Bun.spawn(["bun", PEER, "a", JSON.stringify(spec)], { stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
  current = proc;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(proc);
  }, timeout);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  current = null;
  if (groupAlive(proc)) killGroup(proc); // a B that outlived a crashed A
  const seconds = Math.round(performance.now() - started) / 1000;
  const result = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (code === 0 && result !== undefined) return { ...JSON.parse(result.slice(7)), seconds };
  const errors = err.split("\n").filter((l) => l.startsWith("ERROR "));
  if (errors.length === 0 && err.trim() !== "") process.stderr.write(err);
  const reason = timedOut ? `timed out after ${timeout / 1000} s` : errors.length > 0 ? errors.map((l) => l.slice(6)).join("; ") : `process A exited with ${code ?? proc.signalCode}`;
  return { error: reason, seconds };
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function describe(measure: MeasureId, record: RunRecord): string {
  if ("error" in record) return `FAILED: ${record.error}`;
  const v = record.values;
  const counters = record.counters && Object.values(record.counters).some((x) => x > 0) ? `  ${JSON.stringify(record.counters)}` : "";
  if (measure === "throughput") return `${fmt(v.msgsPerSec / 1000)}k msg/s  ${fmt(v.mbPerSec)} MB/s${counters}`;
  return `p50 ${fmt(v.p50)}  p99 ${fmt(v.p99)}  p99.9 ${fmt(v.p999)} µs${counters}`;
}

function specFor(method: Method, measure: MeasureId, transport: Transport, size: number, dir: string, service: Record<string, string>, timeout: number): RunSpec {
  const counts = measure === "oneWay" ? method.oneWay : measure === "roundTrip" ? method.roundTrip : method.throughput;
  return {
    transport: transport.id,
    measure,
    size,
    messages: counts.messages,
    warmup: counts.warmup,
    intervalMs: method.oneWay.intervalMs,
    settleMs: method.settleMs,
    dir,
    service,
    deadline: Date.now() + timeout - 3_000,
  };
}

async function bench(method: Method, mode: "full" | "quick", only: Set<string> | null): Promise<CompareResults> {
  const started = performance.now();
  const root = mkdtempSync(join(tmpdir(), "chronicle-compare-"));
  const info = machine(root);
  const services = new Map<string, Service>();
  const transports: TransportInfo[] = [];
  const onSignal = (signal: NodeJS.Signals): void => {
    if (current !== null) killGroup(current);
    void Promise.allSettled([...services.values()].map((s) => s.stop())).finally(() => {
      rmSync(root, { recursive: true, force: true });
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const series: Series[] = [];
  try {
    const runnable: Transport[] = [];
    for (const t of TRANSPORTS) {
      if (only !== null && !only.has(t.id)) continue;
      const entry: TransportInfo = { id: t.id, label: t.label, short: t.short, guarantees: t.guarantees, status: "ok" };
      transports.push(entry);
      const reason = t.unavailable?.() ?? null;
      if (reason !== null) {
        Object.assign(entry, { status: "skipped", reason });
        console.log(`skipping ${t.label}: ${reason}`);
        continue;
      }
      if (t.startService !== undefined) {
        try {
          services.set(t.id, await t.startService(root));
        } catch (e) {
          Object.assign(entry, { status: "failed", reason: (e as Error).message });
          console.log(`${t.label} failed to start: ${(e as Error).message}`);
          continue;
        }
      }
      runnable.push(t);
      for (const measure of MEASURES) for (const size of method.sizes) series.push({ transport: t.id, measure, size, runs: [], summary: null });
    }
    const total = method.runs * series.length;
    console.log(`${mode} run: ${method.runs} runs x ${series.length} series (${runnable.length} transports, ${method.sizes.join("/")} B); files under ${root}\n`);
    let n = 0;
    for (let run = 1; run <= method.runs; run++) {
      for (const measure of MEASURES) {
        for (const size of method.sizes) {
          for (const t of runnable) {
            const dir = join(root, `run${++n}`);
            mkdirSync(dir);
            const timeout = timeoutMs(method, measure);
            const record = await runOne(specFor(method, measure, t, size, dir, services.get(t.id)?.info ?? {}, timeout), timeout);
            rmSync(dir, { recursive: true, force: true });
            series.find((s) => s.transport === t.id && s.measure === measure && s.size === size)!.runs.push(record);
            const label = `[${String(n).padStart(String(total).length)}/${total}] run ${run}  ${MEASURE_NAMES[measure].padEnd(10)} ${String(size).padStart(4)} B  ${t.label.padEnd(34)}`;
            console.log(`${label} ${describe(measure, record)}  (${record.seconds.toFixed(1)} s)`);
          }
        }
      }
    }
  } finally {
    await Promise.allSettled([...services.values()].map((s) => s.stop()));
    rmSync(root, { recursive: true, force: true });
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  for (const s of series) s.summary = summarize(s.runs);
  for (const t of transports) {
    const mine = series.filter((s) => s.transport === t.id);
    if (t.status === "ok" && mine.every((s) => s.summary === null)) {
      const first = mine.flatMap((s) => s.runs).find((r) => "error" in r);
      Object.assign(t, { status: "failed", reason: first && "error" in first ? first.error : "no run succeeded" });
    }
  }
  info.loadEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  return {
    schema: 1,
    generated: new Date().toISOString(),
    mode,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    machine: info,
    method,
    transports,
    series,
  };
}

function writeOutputs(results: CompareResults): void {
  writeFileSync(CHART, renderLatencyChart(results));
  updateDoc(DOC, renderMarkdown(results, "compare-latency.svg"));
  console.log(`wrote ${DOC} (compare section) and ${CHART}`);
}

const args = process.argv.slice(2);
const known = /^--(quick|report-only|only=[\w,-]+)$/;
const bad = args.find((a) => !known.test(a));
if (bad !== undefined) {
  console.error(`unknown argument ${bad}; usage: main.ts [--quick] [--report-only] [--only=id,id]`);
  process.exit(2);
}
if (args.includes("--report-only")) {
  writeOutputs(JSON.parse(readFileSync(RESULTS, "utf8")) as CompareResults);
} else {
  const onlyArg = args.find((a) => a.startsWith("--only="));
  const only = onlyArg === undefined ? null : new Set(onlyArg.slice(7).split(","));
  if (only !== null) {
    const ids = new Set(TRANSPORTS.map((t) => t.id as string));
    const unknown = [...only].filter((id) => !ids.has(id));
    if (unknown.length > 0) {
      console.error(`unknown transport ${unknown.join(", ")} (known: ${[...ids].join(", ")})`);
      process.exit(2);
    }
  }
  const quick = args.includes("--quick");
  const method = quick ? QUICK : FULL;
  const results = await bench(method, quick ? "quick" : "full", only);
  console.log(`\n${renderTables(results)}`);
  if (only === null) {
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 1)}\n`);
    console.log(`wrote ${RESULTS}`);
    writeOutputs(results);
  } else {
    console.log("(--only: nothing written)");
  }
}
