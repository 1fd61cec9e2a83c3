/**
 * A small SVG renderer for the report's chart: a section per measure the run has (one-way
 * latency and round trip as p50/p99/p99.9, throughput as messages per second), one panel per
 * payload size, grouped bars per transport on a log-scale y axis shared within the section,
 * whiskers for the min–max over runs. Plain strings, no dependency.
 */
import type { CompareResults, Stat } from "./results.ts";
import type { MeasureId } from "./types.ts";

const WIDTH = 980;
const LEFT = 70;
const RIGHT = 16;
const HEADER = 92;
const PANEL = 268;
const PLOT = 180;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

const SECTION_TITLE = 30;

interface Bar {
  key: string;
  name: string;
  color: string;
}

const PERCENTILES: Bar[] = [
  { key: "p50", name: "p50", color: "#1f4e8c" },
  { key: "p99", name: "p99", color: "#4f93d8" },
  { key: "p999", name: "p99.9", color: "#a9cdf2" },
];

interface Section {
  measure: MeasureId;
  title: string;
  bars: Bar[];
  format: (v: number) => string;
}

const SECTIONS: Section[] = [
  { measure: "oneWay", title: "One-way latency, receiver idle between messages (lower is better)", bars: PERCENTILES, format: duration },
  { measure: "roundTrip", title: "Round trip: send, echo, next send at once (lower is better)", bars: PERCENTILES, format: duration },
  { measure: "throughput", title: "Throughput, one way, as fast as the transport takes them (higher is better)", bars: [{ key: "msgsPerSec", name: "messages/s", color: "#2f7d4f" }], format: rate },
];

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function el(name: string, attrs: Record<string, string | number>, body = ""): string {
  const a = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${typeof v === "number" ? +v.toFixed(2) : esc(v)}"`)
    .join("");
  return body === "" ? `<${name}${a}/>` : `<${name}${a}>${body}</${name}>`;
}

function text(x: number, y: number, s: string, attrs: Record<string, string | number> = {}): string {
  return el("text", { x, y, ...attrs }, esc(s));
}

/** "2 µs", "150 µs", "1.5 ms": axis and value labels. */
export function duration(us: number): string {
  const short = (x: number): string => (x >= 100 || Number.isInteger(x) ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2).replace(/0$/, ""));
  if (us >= 1e6) return `${short(us / 1e6)} s`;
  if (us >= 1e3) return `${short(us / 1e3)} ms`;
  return `${short(us)} µs`;
}

/** "350 k/s", "2.9 M/s": throughput labels. */
export function rate(perSec: number): string {
  const short = (x: number): string => (x >= 100 || Number.isInteger(x) ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2).replace(/0$/, ""));
  if (perSec >= 1e6) return `${short(perSec / 1e6)} M/s`;
  if (perSec >= 1e3) return `${short(perSec / 1e3)} k/s`;
  return `${short(perSec)}/s`;
}

/** The chart of a compare run: the sections of the measures it has, stacked. */
export function renderCompareChart(results: CompareResults): string {
  const { sizes, runs } = results.method;
  const transports = results.transports;
  const summary = (measure: MeasureId, id: string, size: number): Record<string, Stat> | null =>
    results.series.find((s) => s.transport === id && s.measure === measure && s.size === size)?.summary ?? null;
  const sections = SECTIONS.filter((sec) => results.series.some((s) => s.measure === sec.measure));

  const plotWidth = WIDTH - LEFT - RIGHT;
  const group = plotWidth / Math.max(1, transports.length);
  const height = HEADER + sections.length * (SECTION_TITLE + sizes.length * PANEL) + 8;
  const out: string[] = [];

  out.push(el("rect", { x: 0, y: 0, width: WIDTH, height, fill: "#ffffff" }));
  out.push(text(LEFT, 26, "chronicle and the alternatives between two processes, log scales", { "font-size": 16, "font-weight": 600 }));
  const mc = results.machine;
  out.push(text(LEFT, 46, `Median of ${runs} run${runs === 1 ? "" : "s"}; whiskers: min–max over runs. ${results.mode} run ${results.generated.slice(0, 10)}, ${mc.cpu}, ${mc.cores} cores, Bun ${mc.bun}.`, { "font-size": 12, fill: "#444" }));
  let lx = LEFT;
  for (const s of [...PERCENTILES, ...SECTIONS[2]!.bars]) {
    out.push(el("rect", { x: lx, y: 60, width: 14, height: 14, fill: s.color }));
    out.push(text(lx + 20, 72, s.name, { "font-size": 12 }));
    lx += s.name.length > 6 ? 104 : 74;
  }
  out.push(el("line", { x1: lx + 7, y1: 59, x2: lx + 7, y2: 75, stroke: "#222", "stroke-width": 1.2 }));
  out.push(el("line", { x1: lx + 3, y1: 59, x2: lx + 11, y2: 59, stroke: "#222", "stroke-width": 1.2 }));
  out.push(el("line", { x1: lx + 3, y1: 75, x2: lx + 11, y2: 75, stroke: "#222", "stroke-width": 1.2 }));
  out.push(text(lx + 18, 72, "min–max over runs", { "font-size": 12 }));

  let sectionTop = HEADER;
  for (const sec of sections) {
    const values = sizes.flatMap((size) => transports.flatMap((t) => {
      const s = summary(sec.measure, t.id, size);
      return s === null ? [] : sec.bars.flatMap(({ key }) => (s[key] === undefined ? [] : [s[key].min, s[key].max]));
    })).filter((v) => v > 0);
    const lo = values.length > 0 ? 10 ** Math.floor(Math.log10(Math.min(...values))) : 1;
    const hi = values.length > 0 ? 10 ** Math.ceil(Math.log10(Math.max(...values))) : 1000;
    const span = Math.log10(hi) - Math.log10(lo) || 1;
    const bar = Math.min(22, (group * 0.78) / sec.bars.length);
    out.push(text(LEFT, sectionTop + 20, sec.title, { "font-size": 15, "font-weight": 600 }));

    sizes.forEach((size, k) => {
      const top = sectionTop + SECTION_TITLE + k * PANEL + 22;
      const bottom = top + PLOT;
      const y = (v: number): number => bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * PLOT;
      out.push(text(LEFT, top - 8, `${size}-byte payloads`, { "font-size": 13, "font-weight": 600 }));
      for (let d = lo; d <= hi * 1.0001; d *= 10) {
        out.push(el("line", { x1: LEFT, y1: y(d), x2: WIDTH - RIGHT, y2: y(d), stroke: "#c8c8c8", "stroke-width": 1 }));
        out.push(text(LEFT - 6, y(d) + 4, sec.format(d), { "font-size": 11, "text-anchor": "end", fill: "#333" }));
        if (d < hi) {
          for (const m of [2, 5]) out.push(el("line", { x1: LEFT, y1: y(d * m), x2: WIDTH - RIGHT, y2: y(d * m), stroke: "#ececec", "stroke-width": 1 }));
        }
      }
      transports.forEach((t, i) => {
        const cx = LEFT + group * (i + 0.5);
        const s = summary(sec.measure, t.id, size);
        const words = t.short.split(" ");
        const half = Math.ceil(words.length / 2);
        const lines = words.length > 1 ? [words.slice(0, half).join(" "), words.slice(half).join(" ")] : [t.short];
        lines.forEach((line, j) => out.push(text(cx, bottom + 16 + j * 13, line, { "font-size": 11.5, "text-anchor": "middle" })));
        const first = s?.[sec.bars[0]!.key];
        const note = s === null ? (t.status === "skipped" ? "skipped" : "not measured") : first === undefined ? "" : `${sec.bars.length > 1 ? `${sec.bars[0]!.name} ` : ""}${sec.format(first.median)}`;
        out.push(text(cx, bottom + 16 + lines.length * 13, note, { "font-size": 11, "text-anchor": "middle", fill: s === null ? "#a33" : "#555" }));
        if (s === null) return;
        sec.bars.forEach(({ key, name, color }, j) => {
          const st = s[key];
          if (st === undefined) return;
          const x = cx + (j - sec.bars.length / 2) * bar;
          const label = `${t.label}, ${size} B, ${name}: ${sec.format(st.median)} (min ${sec.format(st.min)}, max ${sec.format(st.max)})`;
          out.push(el("rect", { x, y: y(st.median), width: bar - 1, height: bottom - y(st.median), fill: color }, el("title", {}, esc(label))));
          if (st.max > st.min) {
            const wx = x + (bar - 1) / 2;
            out.push(el("line", { x1: wx, y1: y(st.max), x2: wx, y2: y(st.min), stroke: "#222", "stroke-width": 1 }));
            out.push(el("line", { x1: wx - 3, y1: y(st.max), x2: wx + 3, y2: y(st.max), stroke: "#222", "stroke-width": 1 }));
            out.push(el("line", { x1: wx - 3, y1: y(st.min), x2: wx + 3, y2: y(st.min), stroke: "#222", "stroke-width": 1 }));
          }
        });
      });
      out.push(el("line", { x1: LEFT, y1: top, x2: LEFT, y2: bottom, stroke: "#333", "stroke-width": 1 }));
      out.push(el("line", { x1: LEFT, y1: bottom, x2: WIDTH - RIGHT, y2: bottom, stroke: "#333", "stroke-width": 1 }));
    });
    sectionTop += SECTION_TITLE + sizes.length * PANEL;
  }

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${FONT}" role="img">`,
    el("title", {}, esc("One-way latency, round trip and throughput per transport (log scales)")),
    ...out,
    "</svg>",
    "",
  ].join("\n");
}
