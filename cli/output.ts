/** Output helpers for the CLI: tables, colour (TTY only, NO_COLOR respected), usage errors. */

/** Bad arguments or a path that is not a queue: one line on stderr, exit code 2. */
export class UsageError extends Error {}

const useColour = process.stdout.isTTY === true && !process.env.NO_COLOR;

export function colour(code: "red" | "yellow" | "green" | "dim" | "bold", text: string): string {
  if (!useColour) return text;
  const codes = { red: 31, yellow: 33, green: 32, dim: 2, bold: 1 } as const;
  return `\x1b[${codes[code]}m${text}\x1b[0m`;
}

// Visible width of a string that may hold ANSI colour codes.
function width(s: string): number {
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}

/** Renders rows as an aligned text table with a header row. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]): string => cells.map((c, i) => c + " ".repeat(widths[i]! - width(c))).join("  ").trimEnd();
  return [colour("bold", line(header)), ...rows.map(line)].join("\n");
}

/** "1.5 MiB" style sizes. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/** "350 ms", "12.3 s", "4 h" style ages; "-" when unknown. */
export function age(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

const jsonValue = (_k: string, v: unknown): unknown => (typeof v === "bigint" ? v.toString() : typeof v === "number" && !Number.isFinite(v) ? null : v);

/** JSON with Infinity/NaN as null and bigint as string (nanosecond times are bigints: a double would round them). */
export function json(value: unknown): string {
  return JSON.stringify(value, jsonValue, 2);
}

/** {@link json} on one line, for a stream of objects (one per line). */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, jsonValue);
}

export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

/**
 * Parses `--name value`, `--name=value`, `-x` and up to `maxPositional` positionals. `valued`
 * lists the flags that take a value; anything else unknown, a value given to a switch and a
 * positional too many are UsageErrors.
 */
export function parseArgs(argv: string[], valued: string[], switches: string[], maxPositional: number): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("-") || a === "-") {
      if (positional.length === maxPositional) throw new UsageError(`unexpected argument ${JSON.stringify(a)}`);
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (valued.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      flags.set(name, v);
    } else if (switches.includes(name)) {
      if (eq > 0) throw new UsageError(`${name} takes no value`);
      flags.set(name, true);
    } else {
      throw new UsageError(`unknown option ${name}`);
    }
  }
  return { positional, flags };
}

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration flag value: an integer with a unit (ms, s, m, h, d), e.g. "7d"; undefined when absent. */
export function durationFlag(args: ParsedArgs, name: string): number | undefined {
  const v = args.flags.get(name);
  if (v === undefined) return undefined;
  const m = typeof v === "string" ? /^(\d+)(ms|s|m|h|d)$/.exec(v) : null;
  if (m === null) throw new UsageError(`${name} must be a duration such as 500ms, 30s, 10m, 12h or 7d, got ${String(v)}`);
  return Number(m[1]) * DURATION_UNITS_MS[m[2] as keyof typeof DURATION_UNITS_MS];
}

/** An integer flag value of at least `min` (default 0), or the fallback. */
export function intFlag(args: ParsedArgs, name: string, fallback: number, min = 0): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || v.trim() === "" || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${name} must be ${min === 0 ? "a non-negative integer" : `an integer >= ${min}`}, got ${String(v)}`);
  }
  return n;
}
