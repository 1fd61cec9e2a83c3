/**
 * chronicle against the alternatives, side by side on this machine. Prints the report (markdown)
 * on stdout and a progress line per measured case on stderr; writes nothing unless given --write.
 *
 *   bun run bench:compare                     compare preset, full run (3 runs of everything, ~10-15 min)
 *   bun run bench:compare --quick             short run (2 runs, fewer messages, ~2 min)
 *   bun run bench:compare --write             ... and write the results (see below)
 *   bun run bench:latency [--quick] [--write] the latency preset (main.ts --preset=latency, ~3 min; quick ~1 min)
 *   bun bench/compare/main.ts --quick --only=uds,sqlite       a subset of the transports (never written)
 *   bun bench/compare/main.ts --report-only [--preset=latency] [--write]
 *                                             the report from the saved results, no measuring
 *
 * Presets (presets.ts):
 *   compare  every transport, one-way, round trip and throughput at 64/256/1024 B; ratios against
 *            the Unix socket
 *   latency  the bare spin loop (transports/bare.ts), chronicle spin / hybrid / waitAsync, Unix
 *            socket, Bun IPC; one-way and round trip at 64 B with many samples (100,000 round
 *            trips, 5,000 one-way messages per run) for p99.9; ratios against the bare loop, and
 *            the garbage collections in each process
 *
 * --write   also writes bench/results/<preset>.json, the block between `<!-- <preset>:begin -->`
 *           and `<!-- <preset>:end -->` in docs/BENCHMARKS.md, and for compare the chart
 *           docs/compare.svg (with --report-only: the block and the chart, from the JSON).
 *           Publish figures from a quiet machine only.
 *
 * Every measurement is a fresh pair of processes (A measures, its child B sends or echoes; see
 * peer.ts) with fresh files, started with JavaScriptCore's GC log on (gc.ts counts the
 * collections during the measured messages). Runs are interleaved (run 1 of everything, then
 * run 2, ...) so that load drift on a shared machine hits every transport alike. Ratios are
 * against the preset's baseline measured in the same invocation.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import type { Subprocess } from "bun";
import { note, Progress } from "../output.ts";
import { GC_LOG_ENV, gcStats, withoutGcLog, type GcStats } from "./gc.ts";
import { measuresOf, PRESETS, type Preset, type PresetId } from "./presets.ts";
import { MEASURE_NAMES, num, renderDocBlock, renderMarkdown, updateDoc } from "./report.ts";
import { summarize, type CompareResults, type Machine, type Method, type RunRecord, type Series, type TransportInfo } from "./results.ts";
import { renderCompareChart } from "./svg.ts";
import { TRANSPORTS } from "./transports/index.ts";
import { supports, type MeasureId, type RunSpec, type Service, type Transport } from "./types.ts";

const REPO = join(import.meta.dir, "..", "..");
const DOC = join(REPO, "docs", "BENCHMARKS.md");
const PEER = join(import.meta.dir, "peer.ts");

const resultsPath = (preset: Preset): string => join(REPO, "bench", "results", `${preset.id}.json`);

/** The message counts of one measure (present: the caller runs only the method's measures). */
function countsOf(method: Method, measure: MeasureId): { messages: number; warmup: number } {
  const counts = method[measure];
  if (counts === undefined) throw new Error(`the method has no counts for ${measure}`);
  return counts;
}

/** Generous "did not hang" limits per run; process A gives up a little earlier on its own. */
function timeoutMs(method: Method, measure: MeasureId): number {
  const { messages, warmup } = countsOf(method, measure);
  switch (measure) {
    case "oneWay":
      return 30_000 + (messages + warmup) * (method.oneWay!.intervalMs + 10);
    case "roundTrip":
      return 30_000 + (messages + warmup) * 20;
    case "throughput":
      return 60_000 + (messages + warmup) * 0.5;
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
      tempFs = type!;
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
  const proc = Bun.spawn(["bun", PEER, "a", JSON.stringify(spec)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
    env: { ...process.env, ...GC_LOG_ENV },
  });
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
  if (code === 0 && result !== undefined) {
    // A's collections are in its stderr; B's, A found in B's (peer.ts).
    const { values, counters, gc } = JSON.parse(result.slice(7)) as { values: Record<string, number>; counters?: Record<string, number>; gc?: { b: GcStats | null } };
    return { values, ...(counters ? { counters } : {}), gc: { a: gcStats(err), b: gc?.b ?? null }, seconds };
  }
  const rest = withoutGcLog(err);
  const errors = rest.split("\n").filter((l) => l.startsWith("ERROR "));
  if (errors.length === 0 && rest !== "") process.stderr.write(rest);
  const reason = timedOut ? `timed out after ${timeout / 1000} s` : errors.length > 0 ? errors.map((l) => l.slice(6)).join("; ") : `process A exited with ${code ?? proc.signalCode}`;
  return { error: reason, seconds };
}

function gcText(role: string, s: GcStats | null | undefined): string {
  if (s == null) return `${role} ?`;
  const workers = s.workerCollections > 0 ? ` +${s.workerCollections} in workers` : "";
  return `${role} ${s.collections}${s.collections > 0 ? ` (${num(s.pauseMs)} ms)` : ""}${workers}`;
}

function describe(measure: MeasureId, record: RunRecord): string {
  if ("error" in record) return `FAILED: ${record.error}`;
  const v = record.values;
  const counters = record.counters && Object.values(record.counters).some((x) => x > 0) ? `  ${JSON.stringify(record.counters)}` : "";
  const gc = `  GCs ${gcText("A", record.gc?.a)} ${gcText("B", record.gc?.b)}`;
  if (measure === "throughput") return `${num(v.msgsPerSec! / 1000)}k msg/s  ${num(v.mbPerSec!)} MB/s${counters}${gc}`;
  return `p50 ${num(v.p50!)}  p99 ${num(v.p99!)}  p99.9 ${num(v.p999!)} µs${counters}${gc}`;
}

function specFor(method: Method, measure: MeasureId, transport: Transport, size: number, dir: string, service: Record<string, string>, timeout: number): RunSpec {
  const { messages, warmup } = countsOf(method, measure);
  return {
    transport: transport.id,
    measure,
    size,
    messages,
    warmup,
    intervalMs: method.oneWay?.intervalMs ?? 0,
    settleMs: method.settleMs,
    dir,
    service,
    deadline: Date.now() + timeout - 3_000,
  };
}

async function bench(preset: Preset, mode: "full" | "quick", selected: readonly Transport[]): Promise<CompareResults> {
  const method = mode === "quick" ? preset.quick : preset.full;
  const measures = measuresOf(method);
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
    for (const t of selected) {
      const entry: TransportInfo = { id: t.id, label: t.label, short: t.short, guarantees: t.guarantees, status: "ok" };
      transports.push(entry);
      const reason = t.unavailable?.() ?? null;
      if (reason !== null) {
        Object.assign(entry, { status: "skipped", reason });
        note(`skipping ${t.label}: ${reason}`);
        continue;
      }
      if (t.startService !== undefined) {
        try {
          services.set(t.id, await t.startService(root));
        } catch (e) {
          Object.assign(entry, { status: "failed", reason: (e as Error).message });
          note(`${t.label} failed to start: ${(e as Error).message}`);
          continue;
        }
      }
      runnable.push(t);
      for (const measure of measures.filter((m) => supports(t, m))) {
        for (const size of method.sizes) series.push({ transport: t.id, measure, size, runs: [], summary: null });
      }
    }
    const progress = new Progress(method.runs * series.length);
    note(
      `${preset.id} preset, ${mode} run: ${method.runs} runs x ${series.length} series ` +
        `(${runnable.length} transports; ${measures.map((m) => `${MEASURE_NAMES[m]} ${countsOf(method, m).messages.toLocaleString("en-US")} msgs`).join(", ")}; ` +
        `${method.sizes.join("/")} B); files under ${root}`,
    );
    let n = 0;
    for (let run = 1; run <= method.runs; run++) {
      for (const measure of measures) {
        for (const size of method.sizes) {
          for (const t of runnable.filter((x) => supports(x, measure))) {
            const dir = join(root, `run${++n}`);
            mkdirSync(dir);
            const timeout = timeoutMs(method, measure);
            const record = await runOne(specFor(method, measure, t, size, dir, services.get(t.id)?.info ?? {}, timeout), timeout);
            rmSync(dir, { recursive: true, force: true });
            series.find((s) => s.transport === t.id && s.measure === measure && s.size === size)!.runs.push(record);
            progress.step(`run ${run}  ${MEASURE_NAMES[measure].padEnd(10)} ${String(size).padStart(4)} B  ${t.label.padEnd(34)} ${describe(measure, record)}  in ${record.seconds.toFixed(1)} s,`);
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
    preset: preset.id,
    generated: new Date().toISOString(),
    mode,
    durationSeconds: Math.round((performance.now() - started) / 1000),
    machine: info,
    method,
    transports,
    series,
  };
}

/** The doc block and the chart (with --write); the results JSON is written by the caller after a run. */
function writeReport(preset: Preset, results: CompareResults): void {
  const written = [`${DOC} (${preset.id} block)`];
  if (preset.chart !== null) {
    const chart = join(REPO, "docs", preset.chart);
    writeFileSync(chart, renderCompareChart(results));
    written.push(chart);
  }
  updateDoc(DOC, preset.id, renderDocBlock(results, preset.chart));
  note(`wrote ${written.join(" and ")}`);
}

const USAGE = `usage: main.ts [--preset=${Object.keys(PRESETS).join("|")}] [--quick] [--only=id,id] [--write] [--report-only]
presets:
${Object.values(PRESETS)
  .map((p) => `  ${p.id.padEnd(8)} ${p.summary}`)
  .join("\n")}
The report goes to stdout, progress to stderr. Nothing is written without --write
(bench/results/<preset>.json, the <preset> block of docs/BENCHMARKS.md, the preset's chart).`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const args = process.argv.slice(2);
const known = /^--(quick|write|report-only|help|only=[\w,-]+|preset=\w+)$/;
const bad = args.find((a) => !known.test(a));
if (bad !== undefined) fail(`unknown argument ${bad}`);
if (args.includes("--help")) {
  console.log(USAGE);
  process.exit(0);
}
const presetArg = args.find((a) => a.startsWith("--preset="))?.slice(9) ?? "compare";
if (!(presetArg in PRESETS)) fail(`unknown preset ${presetArg}`);
const preset = PRESETS[presetArg as PresetId];
const write = args.includes("--write");
const onlyArg = args.find((a) => a.startsWith("--only="));

if (args.includes("--report-only")) {
  if (args.includes("--quick") || onlyArg !== undefined) fail("--report-only takes only --preset and --write");
  const path = resultsPath(preset);
  if (!existsSync(path)) fail(`no saved results at ${path}: run the ${preset.id} preset with --write first`);
  const results = JSON.parse(readFileSync(path, "utf8")) as CompareResults;
  console.log(renderMarkdown(results, null));
  if (write) writeReport(preset, results);
} else {
  let selected = TRANSPORTS.filter((t) => preset.transports.includes(t.id));
  if (onlyArg !== undefined) {
    if (write) fail("--write records whole presets: leave out --only");
    const only = new Set(onlyArg.slice(7).split(","));
    const unknown = [...only].filter((id) => !TRANSPORTS.some((t) => t.id === id));
    if (unknown.length > 0) fail(`unknown transport ${unknown.join(", ")} (known: ${TRANSPORTS.map((t) => t.id).join(", ")})`);
    selected = TRANSPORTS.filter((t) => only.has(t.id));
  }
  const results = await bench(preset, args.includes("--quick") ? "quick" : "full", selected);
  console.log(renderMarkdown(results, null));
  if (write) {
    const path = resultsPath(preset);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(results, null, 1)}\n`);
    note(`wrote ${path}`);
    writeReport(preset, results);
  } else {
    note(onlyArg === undefined ? "nothing written (add --write to update bench/results and docs/BENCHMARKS.md)" : "nothing written (--only)");
  }
}
