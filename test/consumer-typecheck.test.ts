/**
 * A consumer project made with bun init's tsconfig (plus exactOptionalPropertyTypes) compiles
 * chronicle's shipped sources without an error, with `bun check`, the pinned TypeScript and the
 * current major release. scripts/consumer-typecheck.ts builds the project and runs the compiler.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { BUN_CHECK, CANARY_CODES, CHECKOUT, ConsumerProject, CURRENT_MAJOR_TSC, devDependenciesInstalled, exportEntries, PINNED_TSC } from "../scripts/consumer-typecheck.ts";

// The consumer project takes @types/bun and the compilers from the dev dependencies (`bun install`).
describe("a strict consumer project type-checks chronicle", () => {
  const pinned = (JSON.parse(readFileSync(join(CHECKOUT, "package.json"), "utf8")) as { devDependencies: Record<string, string> }).devDependencies;
  let project: ConsumerProject;
  beforeAll(() => {
    if (!devDependenciesInstalled()) throw new Error("the consumer type checks need the dev dependencies: run `bun install` first");
    project = new ConsumerProject();
  });
  afterAll(() => project[Symbol.dispose]());

  test.each([
    ["bun check (a bun init project's typecheck script)", BUN_CHECK, Bun.version],
    ["the pinned TypeScript", PINNED_TSC, pinned.typescript!],
    ["the current major release", CURRENT_MAJOR_TSC, pinned["typescript-7"]!.replace(/^npm:typescript@/, "")],
  ])("with %s", (_what, tsc, version) => {
    const r = project.check(tsc);
    expect(r.version).toBe(version);
    expect(r.errors).toEqual([]);
    // The strict options were in effect: the canary file got exactly its two errors.
    expect(r.canaryCodes).toEqual(CANARY_CODES);
    // Every exported entry point, and so the sources behind it, was compiled.
    for (const [, file] of exportEntries()) expect(r.files).toContain(realpathSync(file));
    expect(r.files).toContain(realpathSync(join(CHECKOUT, "src", "queue", "writer.ts")));
  }, 60_000);
});
