/** The core entry point loads no npm package, chronicle/nats is its own entry; subject matching. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { subjectMatches } from "../../src/nats/common.ts";

const ROOT = join(import.meta.dir, "..", "..");

/** Every bare (non-relative) import reachable from `entry` through relative imports. */
function bareImports(entry: string): Set<string> {
  const transpiler = new Bun.Transpiler({ loader: "ts" });
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { path } of transpiler.scanImports(readFileSync(file, "utf8"))) {
      if (path.startsWith(".")) visit(resolve(dirname(file), path));
      else bare.add(path);
    }
  };
  visit(entry);
  return bare;
}

describe("entry points", () => {
  test('"chronicle" reaches only node: and bun: modules; "chronicle/nats" is exported and uses the NATS client', () => {
    const core = [...bareImports(join(ROOT, "src", "index.ts"))];
    expect(core.filter((p) => !p.startsWith("node:") && !p.startsWith("bun:"))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { exports: Record<string, string>; peerDependenciesMeta: Record<string, { optional: boolean }> };
    expect(pkg.exports["./nats"]).toBe("./src/nats/index.ts");
    const nats = bareImports(join(ROOT, pkg.exports["./nats"]!));
    expect(nats.has("@nats-io/jetstream")).toBe(true);
    expect(pkg.peerDependenciesMeta["@nats-io/jetstream"]?.optional).toBe(true);
    expect(pkg.peerDependenciesMeta["@nats-io/transport-node"]?.optional).toBe(true);
  });
});

describe("subjectMatches", () => {
  test("literal tokens, * for one token, > for one or more trailing tokens", () => {
    expect(subjectMatches("ticks", "ticks")).toBe(true);
    expect(subjectMatches("ticks", "ticks.a")).toBe(false);
    expect(subjectMatches("ticks.*", "ticks.a")).toBe(true);
    expect(subjectMatches("ticks.*", "ticks.a.b")).toBe(false);
    expect(subjectMatches("ticks.>", "ticks.a.b")).toBe(true);
    expect(subjectMatches("ticks.>", "ticks")).toBe(false);
    expect(subjectMatches("*.a", "x.a")).toBe(true);
    expect(subjectMatches("*.a", "x.b")).toBe(false);
    expect(subjectMatches(">", "anything.at.all")).toBe(true);
  });
});
