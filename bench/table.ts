/** Shared formatting for the benchmark scripts: markdown tables and percentiles. */

/** A markdown table with padded columns. */
export function markdownTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]): string => "| " + c.map((x, i) => x.padEnd(w[i])).join(" | ") + " |";
  return [line(header), "|" + w.map((n) => "-".repeat(n + 2)).join("|") + "|", ...rows.map(line)].join("\n");
}

/** Prints a markdown table with padded columns. */
export function printTable(header: string[], rows: string[][]): void {
  console.log(markdownTable(header, rows));
}

/** The p-quantile (0..1) of an ascending array. */
export function pct(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}
