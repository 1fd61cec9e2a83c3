/**
 * The markdown report of a run: printed by main.ts, and with --write regenerated into
 * docs/BENCHMARKS.md between the preset's markers from its results JSON.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { markdownTable } from "../output.ts";
import { median, rankFromTop } from "../stats.ts";
import { measuresOf, PRESETS, type Percentile, type Preset, type PresetId } from "./presets.ts";
import { errorsOf, summarize, type CompareResults, type RunRecord, type Series, type Stat, type TransportInfo } from "./results.ts";
import { STALL_MS } from "./transports/file.ts";
import { TRANSPORTS } from "./transports/index.ts";
import type { MeasureId, TransportId } from "./types.ts";

export const markers = (id: PresetId): { begin: string; end: string } => ({ begin: `<!-- ${id}:begin -->`, end: `<!-- ${id}:end -->` });

const w = (n: number): string => n.toLocaleString("en-US");

export const MEASURE_NAMES: Record<MeasureId, string> = { oneWay: "one-way", roundTrip: "round trip", throughput: "throughput" };

/** Three significant digits or so, thousands separated. */
export function num(x: number): string {
  if (x >= 100) return Math.round(x).toLocaleString("en-US");
  return x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function rate(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${num(x / 1000)}k`;
}

/** Median with the min–max over runs, or just the median when all runs agree. */
function cell(s: Stat, f: (x: number) => string = num): string {
  const spread = s.min === s.max ? "" : ` (${f(s.min)}–${f(s.max)})`;
  return `${f(s.median)}${spread}`;
}

function times(r: number): string {
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`;
}

function runsCell(s: Series): string {
  const ok = s.runs.filter((r) => "values" in r).length;
  return `${ok}/${s.runs.length}`;
}

function find(results: CompareResults, transport: string, measure: MeasureId, size: number): Series | undefined {
  return results.series.find((s) => s.transport === transport && s.measure === measure && s.size === size);
}

function presetOf(results: CompareResults): Preset {
  return PRESETS[results.preset ?? "compare"];
}

const percentileName = (key: string): string => (key === "p999" ? "p99.9" : key);

/** The name of a transport in the ratio columns ("Unix socket", "bare loop"). */
function shortName(id: TransportId): string {
  return TRANSPORTS.find((t) => t.id === id)?.short ?? id;
}

/**
 * `key` of a series against the baseline's series: either the ratio of the medians over runs, or
 * (`perRun`) run k against the baseline's run k, as median and min–max of those ratios. Null when
 * either has no value to compare.
 */
function ratioStat(s: Series, base: Series | undefined, key: string, perRun: boolean): Stat | null {
  if (base === undefined) return null;
  const b = base.summary?.[key]?.median;
  const x = s.summary?.[key]?.median;
  if (b === undefined || x === undefined || b === 0) return null;
  if (!perRun) return { median: x / b, min: x / b, max: x / b };
  const rs: number[] = [];
  for (let i = 0; i < Math.min(s.runs.length, base.runs.length); i++) {
    const r = s.runs[i]!;
    const q = base.runs[i]!;
    if ("values" in r && "values" in q && q.values[key]! > 0) rs.push(r.values[key]! / q.values[key]!);
  }
  return rs.length === 0 ? null : { median: median(rs), min: Math.min(...rs), max: Math.max(...rs) };
}

interface Column {
  name: string;
  cell(s: Series, summary: Record<string, Stat>): string;
}

/** The latency percentiles a table shows: the detailed presets add p90 and the maximum. */
function latencyColumns(detail: boolean): Column[] {
  const keys = detail ? ["p50", "p90", "p99", "p999", "max"] : ["p50", "p99", "p999"];
  return keys.map((key) => ({ name: `${percentileName(key)} µs`, cell: (_s, sum) => cell(sum[key]!) }));
}

const THROUGHPUT_COLUMNS: Column[] = [
  { name: "msg/s", cell: (_s, sum) => cell(sum.msgsPerSec!, rate) },
  { name: "MB/s", cell: (_s, sum) => cell(sum.mbPerSec!) },
];

/** A column of `key` against the preset's baseline (the same measure and payload size). */
function ratioColumn(results: CompareResults, key: string, name: string): Column {
  const { baseline, perRun } = presetOf(results).ratios;
  return {
    name,
    cell(s) {
      const r = ratioStat(s, find(results, baseline, s.measure, s.size), key, perRun);
      return r === null ? "–" : cell(r, times);
    },
  };
}

/** The ratio columns of a measure's table. */
function ratioColumns(results: CompareResults, measure: MeasureId): Column[] {
  const { baseline, keys } = presetOf(results).ratios;
  const vs = `vs ${shortName(baseline)}`;
  if (measure === "throughput") return [ratioColumn(results, "msgsPerSec", vs)];
  return keys.map((key) => ratioColumn(results, key, `${percentileName(key)} ${vs}`));
}

/** One row per payload size and transport. */
function seriesTable(results: CompareResults, measure: MeasureId, columns: Column[]): string {
  const rows: string[][] = [];
  for (const size of results.method.sizes) {
    for (const t of results.transports) {
      const s = find(results, t.id, measure, size);
      if (s === undefined) continue;
      const sum = s.summary;
      const values = sum === null ? [`failed: ${errorsOf(s)[0] ?? "?"}`, ...columns.slice(1).map(() => "")] : columns.map((c) => c.cell(s, sum));
      rows.push([String(size), t.label, ...values, runsCell(s)]);
    }
  }
  return markdownTable(["payload B", "transport", ...columns.map((c) => c.name), "runs ok"], rows);
}

function heading(results: CompareResults, measure: MeasureId, of: string): string {
  const m = results.method;
  switch (measure) {
    case "oneWay":
      return `#### One-way latency, sleeping receiver (${w(m.oneWay!.messages)} messages ${m.oneWay!.intervalMs} ms apart per run; ${of})`;
    case "roundTrip":
      return `#### Round trip, ping-pong (${w(m.roundTrip!.messages)} round trips per run; ${of})`;
    case "throughput":
      return `#### Throughput, writer process → reader process, every message verified (${w(m.throughput!.messages)} messages per run; ${of})`;
  }
}

/** A table per measure the run made. */
export function renderTables(results: CompareResults): string {
  const { runs } = results.method;
  const of = `median of ${runs} run${runs === 1 ? "" : "s"}, (min–max) over runs`;
  const detail = presetOf(results).detail;
  return measuresOf(results.method)
    .filter((measure) => results.series.some((s) => s.measure === measure))
    .map((measure) => {
      const columns = [...(measure === "throughput" ? THROUGHPUT_COLUMNS : latencyColumns(detail)), ...ratioColumns(results, measure)];
      return `${heading(results, measure, of)}\n\n${seriesTable(results, measure, columns)}`;
    })
    .join("\n\n");
}

/** Per run: the collections and pauses of A and B; runs without both GC counts are left out. */
function gcSummary(s: Series): Record<string, Stat> | null {
  const runs: RunRecord[] = s.runs.flatMap((r) => {
    const a = "values" in r ? r.gc?.a : null;
    const b = "values" in r ? r.gc?.b : null;
    if (!a || !b) return [];
    const values = { a: a.collections, aMs: a.pauseMs, b: b.collections, bMs: b.pauseMs, aWorkers: a.workerCollections, bWorkers: b.workerCollections };
    return [{ values, seconds: r.seconds }];
  });
  return summarize(runs);
}

/** A count, or the median of two counts. */
const count = (x: number): string => (Number.isInteger(x) ? w(x) : x.toFixed(1));

/** The collections in each process during the measured messages, per measure and transport. */
function gcTable(results: CompareResults): string {
  const rows: string[][] = [];
  for (const measure of measuresOf(results.method)) {
    for (const size of results.method.sizes) {
      for (const t of results.transports) {
        const s = find(results, t.id, measure, size);
        if (s === undefined || s.summary === null) continue;
        const g = gcSummary(s);
        const cells =
          g === null
            ? ["–", "–", "–", "–", "–"]
            : [cell(g.a!, count), cell(g.aMs!), cell(g.b!, count), cell(g.bMs!), `${cell(g.aWorkers!, count)} / ${cell(g.bWorkers!, count)}`];
        rows.push([MEASURE_NAMES[measure], String(size), t.label, ...cells]);
      }
    }
  }
  const { runs } = results.method;
  return [
    `#### Garbage collections during the measured messages (per run; median of ${runs} run${runs === 1 ? "" : "s"}, (min–max) over runs)`,
    "",
    markdownTable(["measure", "payload B", "transport", "A: GCs", "A: GC pause ms", "B: GCs", "B: GC pause ms", "worker GCs A / B"], rows),
    "",
    "A measures and receives; B sends (one-way) or echoes (round trip). Counted from JavaScriptCore's GC log (BUN_JSC_logGC=1) between markers " +
      "each process writes where its measured messages begin and end: collections of the main thread's heap (the one the messages are handled on) " +
      "with their stop-the-world pause, and of worker threads' heaps (the library's segment preparer, waitAsync's helper), which take a core instead. " +
      "JSC starts a young-generation collection once the bytes allocated since the last one pass a budget of at least 8 MiB (its largeHeapSize), " +
      "or on a timer while the event loop idles; so none during a run means under about 8 MiB / messages allocated per message. " +
      "One-way B allocates a promise per message for its pause (`Bun.sleep`), outside the measured latency.",
  ].join("\n");
}

function statusLine(t: TransportInfo): string | null {
  if (t.status === "skipped") return `- ${t.label}: skipped, ${t.reason}.`;
  if (t.status === "failed") return `- ${t.label}: failed, ${t.reason}.`;
  return null;
}

/** Each target's ratios against the baseline (median over runs) and whether they are met. */
function targetLines(results: CompareResults): string[] {
  const { ratios, targets } = presetOf(results);
  const out: string[] = [];
  for (const target of targets) {
    for (const size of results.method.sizes) {
      const s = find(results, target.transport, target.measure, size);
      if (s === undefined) continue;
      const base = find(results, ratios.baseline, target.measure, size);
      const checks = (Object.entries(target.limits) as [Percentile, number][]).map(([key, limit]) => {
        const r = ratioStat(s, base, key, ratios.perRun);
        return `${percentileName(key)} ${r === null ? "–" : times(r.median)} (≤ ${limit}×: ${r === null ? "not measured" : r.median <= limit ? "met" : "missed"})`;
      });
      const label = TRANSPORTS.find((t) => t.id === target.transport)?.label ?? target.transport;
      out.push(`- Targets (${target.source}): ${label}, ${MEASURE_NAMES[target.measure]} at ${size} B against the ${shortName(ratios.baseline)}: ${checks.join(", ")}.`);
    }
  }
  return out;
}

/** Failed runs of transports that otherwise worked, transport-specific counters, the targets. */
function notes(results: CompareResults): string[] {
  const out: string[] = targetLines(results);
  for (const s of results.series) {
    const t = results.transports.find((x) => x.id === s.transport);
    const errors = errorsOf(s);
    if (errors.length > 0 && s.summary !== null) out.push(`- ${t?.label}, ${s.measure}, ${s.size} B: ${runsCell(s)} runs ok; failed: ${errors.join("; ")}.`);
  }
  const missed = new Map<string, number>();
  for (const s of results.series) {
    for (const r of s.runs) {
      const n = "counters" in r ? r.counters?.missedWakeups : undefined;
      if (n !== undefined) missed.set(s.measure, (missed.get(s.measure) ?? 0) + n);
    }
  }
  if (missed.size > 0) {
    const parts = [...missed].map(([m, n]) => `${n} in ${m}`).join(", ");
    out.push(`- append-only file + fs.watch: reads by the ${STALL_MS} ms fallback that found data (change events fs.watch did not deliver), summed over runs: ${parts}.`);
  }
  return out;
}

/** 1st, 2nd, 3rd, 4th, ... 11th, 12th, ... 21st. */
function ordinal(k: number): string {
  const suffix = k % 100 >= 11 && k % 100 <= 13 ? "th" : (["th", "st", "nd", "rd"][k % 10] ?? "th");
  return `${k}${suffix}`;
}

function measureLines(results: CompareResults): string[] {
  const m = results.method;
  const has = (id: string): boolean => results.transports.some((t) => t.id === id);
  const lines: string[] = [];
  if (m.oneWay !== undefined) {
    lines.push(
      `- One-way: B sends ${w(m.oneWay.messages)} messages (after ${w(m.oneWay.warmup)} warm-up) about ${m.oneWay.intervalMs} ms apart (\`Bun.sleep\`), ` +
        "each stamped with CLOCK_MONOTONIC just before sending; A records arrival minus stamp. The receiver is idle between messages, so this includes waking it.",
    );
  }
  if (m.roundTrip !== undefined) {
    lines.push(`- Round trip: A sends, B echoes, A sends the next as soon as the echo is in; ${w(m.roundTrip.messages)} round trips after ${w(m.roundTrip.warmup)} warm-up.`);
  }
  if (m.throughput !== undefined) {
    const unbuffered = [has("ipc") ? "Bun IPC has none (B buffers)" : "", has("redis") ? "Redis XADDs are pipelined (B waits for every 1024th reply)" : ""].filter((x) => x !== "");
    lines.push(
      `- Throughput: B sends ${w(m.throughput.messages)} messages (after ${w(m.throughput.warmup)} warm-up) as fast as the transport takes them; ` +
        "rate = messages / (B's stamp on the first measured message → A's receipt of the last). Backpressure where the transport has it" +
        (unbuffered.length > 0 ? `; ${unbuffered.join(", ")}.` : "."),
    );
  }
  const ranks = (["oneWay", "roundTrip"] as const).flatMap((id) => {
    const n = m[id]?.messages;
    return n === undefined ? [] : [{ k: rankFromTop(n, 0.999), what: `${w(n)} ${id === "oneWay" ? "one-way messages" : "round trips"}` }];
  });
  const p999 =
    ranks.length === 0
      ? ""
      : ` p99.9 is ${ranks.map((r, i) => `the ${r.k === 1 ? "" : `${ordinal(r.k)}-`}largest sample of ${i === 0 ? "a run's" : "its"} ${r.what}`).join(" and ")}` +
        (ranks.every((r) => r.k <= 10) ? ': read it as "the worst few".' : ".");
  lines.push(`- Figures are medians over runs, with the min–max over runs in brackets.${p999}`);
  return lines;
}

function method(results: CompareResults): string {
  const m = results.method;
  const { machine: mc } = results;
  const minutes = results.durationSeconds >= 90 ? `${Math.round(results.durationSeconds / 60)} min` : `${results.durationSeconds} s`;
  const settings = [...new Set(results.transports.map((t) => TRANSPORTS.find((x) => x.id === t.id)?.settings).filter((x) => x !== undefined))];
  const { baseline, perRun } = presetOf(results).ratios;
  const against = perRun
    ? `Ratios pair each run with the ${shortName(baseline)}'s run of the same round (same load) and give the median and (min–max) of those ratios, lower is better.`
    : `Ratios compare medians with the ${shortName(baseline)} at the same payload size (latency: lower is better; throughput: higher is better).`;
  return [
    `**Run:** ${results.generated.slice(0, 10)}, ${results.mode} run (${minutes}). ${mc.cpu}, ${mc.cores} cores, ${mc.memoryGiB} GiB, ` +
      `Linux ${mc.kernel} ${mc.arch}, Bun ${mc.bun}; files in ${mc.tempDir} (${mc.tempFs}). ` +
      `Load average (1 min) ${mc.loadStart[0]} at the start, ${mc.loadEnd[0] ?? "?"} at the end (the benchmark's own processes count: two busy processes fill this machine). Treat differences within the min–max spread as noise.`,
    "",
    "**Method.**",
    "",
    `- Each measurement starts two fresh Bun processes, A (measures) and its child B, with fresh files; nothing is pinned to a core. ` +
      `${m.runs} runs, interleaved (run 1 of everything, then run 2, ...) so that load drift hits every transport alike; ` +
      `A waits ${m.settleMs} ms after both ends are open, and warm-up messages are not measured.`,
    `- Payloads of ${m.sizes.join(", ")} bytes, the same message counts for every transport. Each message carries its sequence number and bytes derived from it; ` +
      "the receiver checks every byte of every message, in every measure.",
    ...measureLines(results),
    `- Settings: ${settings.join("; ")}. ${against}`,
  ].join("\n");
}

/** The report: method, chart (when there is one), a table per measure, notes, guarantees. */
export function renderMarkdown(results: CompareResults, chart: string | null): string {
  const skipped = results.transports.map(statusLine).filter((l): l is string => l !== null);
  const extra = notes(results);
  const guarantees = markdownTable(
    ["transport", "what it guarantees"],
    results.transports.map((t) => [t.label, t.guarantees]),
  );
  return [
    method(results),
    "",
    ...(chart === null ? [] : [`![One-way latency, round trip and throughput per transport, log scales](${chart})`, ""]),
    renderTables(results),
    "",
    ...(presetOf(results).gcTable ? [gcTable(results), ""] : []),
    ...(skipped.length + extra.length > 0 ? ["#### Notes", "", ...skipped, ...extra, ""] : []),
    "#### What each transport guarantees",
    "",
    guarantees,
  ].join("\n");
}

/** The report as it stands in docs/BENCHMARKS.md, under a note on where it comes from. */
export function renderDocBlock(results: CompareResults, chart: string | null): string {
  const id = presetOf(results).id;
  const flag = id === "compare" ? "" : ` --preset=${id}`;
  return [
    `<!-- Generated by bench/compare/report.ts from bench/results/${id}.json: edit those, not this block. ` +
      `Rebuild: bun bench/compare/main.ts${flag} --report-only --write -->`,
    "",
    renderMarkdown(results, chart),
  ].join("\n");
}

/** Replaces what is between the preset's markers (creating the file or appending the markers if needed); nothing else changes. */
export function updateDoc(path: string, id: PresetId, block: string): void {
  const { begin: open, end: close } = markers(id);
  const text = existsSync(path) ? readFileSync(path, "utf8") : `# Benchmarks\n\n${open}\n${close}\n`;
  const begin = text.indexOf(open);
  const end = text.indexOf(close, begin + open.length);
  const base = begin >= 0 && end >= 0 ? text : `${text}${text.endsWith("\n") ? "" : "\n"}\n${open}\n${close}\n`;
  const b = base.indexOf(open) + open.length;
  const e = base.indexOf(close, b);
  writeFileSync(path, `${base.slice(0, b)}\n${block}\n${base.slice(e)}`);
}
