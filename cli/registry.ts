/**
 * The command registry: every module in cli/commands/ that exports `command` is a command, so a
 * new command gets help, completion and "did you mean" by existing.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "./command.ts";

const COMMANDS_DIR = join(import.meta.dir, "commands");

/** Every command, sorted by name. */
export async function loadCommands(): Promise<Command[]> {
  const files = readdirSync(COMMANDS_DIR).filter((f) => f.endsWith(".ts")).sort();
  const modules = await Promise.all(files.map((f) => import(join(COMMANDS_DIR, f)) as Promise<{ command?: Command }>));
  const commands = modules.map((m, i) => {
    if (m.command === undefined) throw new Error(`cli/commands/${files[i]} exports no \`command\``);
    return m.command;
  });
  return commands.sort((a, b) => a.name.localeCompare(b.name));
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      const prev = d[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The names close to `word` (a typo, or a prefix of exactly one name), nearest first. */
export function suggestions(word: string, names: string[]): string[] {
  const prefixed = names.filter((n) => n.startsWith(word));
  if (word.length > 0 && prefixed.length === 1) return prefixed;
  const limit = word.length <= 4 ? 1 : 2;
  return names
    .map((n) => ({ n, d: distance(word, n) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d)
    .map((x) => x.n);
}
