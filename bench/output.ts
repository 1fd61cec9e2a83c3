/** Shared output for the benchmark scripts: markdown tables on stdout, progress lines on stderr. */

/** A markdown table with padded columns. */
export function markdownTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]): string => "| " + c.map((x, i) => x.padEnd(w[i]!)).join(" | ") + " |";
  return [line(header), "|" + w.map((n) => "-".repeat(n + 2)).join("|") + "|", ...rows.map(line)].join("\n");
}

/** Prints a markdown table with padded columns. */
export function printTable(header: string[], rows: string[][]): void {
  console.log(markdownTable(header, rows));
}

/**
 * One line per finished case on stderr (`[3/24] ...  12.5 s elapsed`), so that a long run shows it
 * is alive while stdout keeps only the report.
 */
export class Progress {
  private done = 0;
  private readonly started = performance.now();

  constructor(private readonly total: number) {}

  step(line: string): void {
    const width = String(this.total).length;
    const elapsed = ((performance.now() - this.started) / 1000).toFixed(1);
    process.stderr.write(`[${String(++this.done).padStart(width)}/${this.total}] ${line}  ${elapsed} s elapsed\n`);
  }
}

/** A line on stderr that is not a step (what is starting, what was skipped, what was written). */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}
