/** The repository's documents stand on their own: FORMAT.md is the format's only reference. */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
const SCANNED = ["src", "test", "docs", "bench", "cli", "examples", "README.md"];

/** Text files under the scanned paths (generated API docs and bench results excluded). */
function files(): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) {
      if (p === join(ROOT, "docs", "api") || p === join(ROOT, "bench", "results")) return;
      for (const name of readdirSync(p)) walk(join(p, name));
    } else if (/\.(ts|md)$/.test(p)) {
      out.push(p);
    }
  };
  for (const s of SCANNED) walk(join(ROOT, s));
  return out;
}

describe("documents", () => {
  test("nothing cites a document outside the repository; every 'FORMAT.md defect N' names a defect FORMAT.md lists", () => {
    const format = readFileSync(join(ROOT, "docs", "FORMAT.md"), "utf8");
    const defects = format.slice(format.indexOf("## Defects of the reference implementation"));
    const listed = [...defects.matchAll(/^(\d+)\. \*\*/gm)].map((m) => Number(m[1]));
    expect(listed).toEqual(listed.map((_, i) => i + 1));
    expect(listed.length).toBeGreaterThan(0);
    const outside: string[] = [];
    const cited = new Set<number>();
    for (const f of files()) {
      if (f === import.meta.path) continue;
      const text = readFileSync(f, "utf8");
      if (/\bSPEC\b|shared\/|\.\.\/\.\.\/shared/.test(text)) outside.push(f);
      for (const m of text.matchAll(/FORMAT\.md defects? (\d+)/g)) cited.add(Number(m[1]));
    }
    expect(outside).toEqual([]);
    for (const n of cited) expect(listed).toContain(n);
  });
});
