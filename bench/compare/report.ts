/** The markdown report, regenerated from the results JSON into docs/BENCHMARKS.md between its markers. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { errorsOf, type CompareResults, type Series, type Stat, type TransportInfo } from "./results.ts";
import type { MeasureId } from "./types.ts";
import { BASELINE } from "./transports/index.ts";
import { markdownTable } from "../table.ts";
import { STALL_MS } from "./transports/file.ts";

export const BEGIN = "<!-- compare:begin -->";
export const END = "<!-- compare:end -->";

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

function ratio(x: number, base: number | undefined): string {
  if (base === undefined || base === 0) return "–";
  const r = x / base;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`;
}

function runsCell(s: Series): string {
  const ok = s.runs.filter((r) => "values" in r).length;
  return `${ok}/${s.runs.length}`;
}

function find(results: CompareResults, transport: string, measure: MeasureId, size: number): Series | undefined {
  return results.series.find((s) => s.transport === transport && s.measure === measure && s.size === size);
}

function latencyTable(results: CompareResults, measure: MeasureId): string {
  const rows: string[][] = [];
  for (const size of results.method.sizes) {
    const base = find(results, BASELINE, measure, size)?.summary?.p50.median;
    for (const t of results.transports) {
      const s = find(results, t.id, measure, size);
      if (s === undefined) continue;
      const sum = s.summary;
      if (sum === null) rows.push([String(size), t.label, `failed: ${errorsOf(s)[0] ?? "?"}`, "", "", "", runsCell(s)]);
      else rows.push([String(size), t.label, cell(sum.p50), cell(sum.p99), cell(sum.p999), ratio(sum.p50.median, base), runsCell(s)]);
    }
  }
  return markdownTable(["payload B", "transport", "p50 µs", "p99 µs", "p99.9 µs", "p50 vs Unix socket", "runs ok"], rows);
}

function throughputTable(results: CompareResults): string {
  const rows: string[][] = [];
  for (const size of results.method.sizes) {
    const base = find(results, BASELINE, "throughput", size)?.summary?.msgsPerSec.median;
    for (const t of results.transports) {
      const s = find(results, t.id, "throughput", size);
      if (s === undefined) continue;
      const sum = s.summary;
      if (sum === null) rows.push([String(size), t.label, `failed: ${errorsOf(s)[0] ?? "?"}`, "", "", runsCell(s)]);
      else rows.push([String(size), t.label, cell(sum.msgsPerSec, rate), cell(sum.mbPerSec), ratio(sum.msgsPerSec.median, base), runsCell(s)]);
    }
  }
  return markdownTable(["payload B", "transport", "msg/s", "MB/s", "vs Unix socket", "runs ok"], rows);
}

/** The three tables (also printed by main.ts at the end of a run). */
export function renderTables(results: CompareResults): string {
  const { runs } = results.method;
  const of = `median of ${runs} run${runs === 1 ? "" : "s"}, (min–max) over runs`;
  return [
    `#### One-way latency, sleeping receiver (${of})`,
    "",
    latencyTable(results, "oneWay"),
    "",
    `#### Round trip, ping-pong (${of})`,
    "",
    latencyTable(results, "roundTrip"),
    "",
    `#### Throughput, writer process → reader process, every message verified (${of})`,
    "",
    throughputTable(results),
  ].join("\n");
}

function statusLine(t: TransportInfo): string | null {
  if (t.status === "skipped") return `- ${t.label}: skipped, ${t.reason}.`;
  if (t.status === "failed") return `- ${t.label}: failed, ${t.reason}.`;
  return null;
}

/** Failed runs of transports that otherwise worked, and transport-specific counters. */
function notes(results: CompareResults): string[] {
  const out: string[] = [];
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

function method(results: CompareResults): string {
  const m = results.method;
  const { machine: mc } = results;
  const w = (n: number): string => n.toLocaleString("en-US");
  const minutes = results.durationSeconds >= 90 ? `${Math.round(results.durationSeconds / 60)} min` : `${results.durationSeconds} s`;
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
    `- One-way: B sends ${w(m.oneWay.messages)} messages (after ${w(m.oneWay.warmup)} warm-up) about ${m.oneWay.intervalMs} ms apart (\`Bun.sleep\`), ` +
      "each stamped with CLOCK_MONOTONIC just before sending; A records arrival minus stamp. The receiver is idle between messages, so this includes waking it.",
    `- Round trip: A sends, B echoes, A sends the next as soon as the echo is in; ${w(m.roundTrip.messages)} round trips after ${w(m.roundTrip.warmup)} warm-up.`,
    `- Throughput: B sends ${w(m.throughput.messages)} messages (after ${w(m.throughput.warmup)} warm-up) as fast as the transport takes them; ` +
      "rate = messages / (B's stamp on the first measured message → A's receipt of the last). Backpressure where the transport has it; " +
      "Bun IPC has none (B buffers), Redis XADDs are pipelined (B waits for every 1024th reply).",
    `- Figures are medians over runs, with the min–max over runs in brackets. p99.9 of ${w(m.oneWay.messages)} samples is the ${m.oneWay.messages >= 2000 ? "second-" : ""}largest sample: read it as "the worst few".`,
    "- Settings: chronicle 64 MiB segments, defaults otherwise, a named subscriber per reader; SQLite WAL with synchronous=NORMAL, one row (one transaction) per message, " +
      "the reader polls by rowid every 1 ms when idle; file: one write(2) per message; Redis: its own redis-server on a Unix socket, persistence off. " +
      "Ratios compare medians with the Unix socket at the same payload size (latency: lower is better; throughput: higher is better).",
  ].join("\n");
}

export function renderMarkdown(results: CompareResults, chart: string): string {
  const skipped = results.transports.map(statusLine).filter((l): l is string => l !== null);
  const extra = notes(results);
  const guarantees = markdownTable(
    ["transport", "what it guarantees"],
    results.transports.map((t) => [t.label, t.guarantees]),
  );
  return [
    "<!-- Generated by bench/compare/report.ts from bench/results/compare.json: edit those, not this block. Rebuild: bun bench/compare/main.ts --report-only -->",
    "",
    method(results),
    "",
    `![One-way latency percentiles per transport, log scale](${chart})`,
    "",
    renderTables(results),
    "",
    ...(skipped.length + extra.length > 0 ? ["#### Notes", "", ...skipped, ...extra, ""] : []),
    "#### What each transport guarantees",
    "",
    guarantees,
  ].join("\n");
}

/** Replaces what is between the markers (creating the file or appending the markers if needed); nothing else changes. */
export function updateDoc(path: string, block: string): void {
  const text = existsSync(path) ? readFileSync(path, "utf8") : `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END, begin + BEGIN.length);
  const base = begin >= 0 && end >= 0 ? text : `${text}${text.endsWith("\n") ? "" : "\n"}\n${BEGIN}\n${END}\n`;
  const b = base.indexOf(BEGIN) + BEGIN.length;
  const e = base.indexOf(END, b);
  writeFileSync(path, `${base.slice(0, b)}\n${block}\n${base.slice(e)}`);
}
