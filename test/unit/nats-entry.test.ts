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

describe("bridge options from JavaScript callers", () => {
  const base = { queue: "/tmp/chronicle-no-such-queue", servers: "nats://127.0.0.1:1", stream: "S", subject: "s.x", readerName: "r", durable: "d" };
  const bad: Array<[string, unknown]> = [
    ["a number for the options", 5],
    ["no queue", { ...base, queue: undefined }],
    ["servers not strings", { ...base, servers: [4222] }],
    ["a stream with a dot", { ...base, stream: "a.b" }],
    ["backoff not an object", { ...base, backoff: 100 }],
    ["backoff.initialMs negative", { ...base, backoff: { initialMs: -1 } }],
    ["timeoutMs NaN", { ...base, timeoutMs: Number.NaN }],
    ["signal not an AbortSignal", { ...base, signal: {} }],
    ["onRetry not a function", { ...base, onRetry: "log" }],
  ];
  for (const [what, options] of bad) {
    test(`${what}: InvalidArgument from both bridges, before anything is opened`, async () => {
      const { bridgeFromJetStream, bridgeToJetStream } = await import("../../src/nats/index.ts");
      const { InvalidArgument } = await import("../../src/errors.ts");
      expect(() => bridgeToJetStream(options as never)).toThrow(InvalidArgument);
      expect(() => bridgeFromJetStream(options as never)).toThrow(InvalidArgument);
    });
  }
  test("sourceId that is not a non-empty string: InvalidArgument from the outbound bridge", async () => {
    const { bridgeToJetStream } = await import("../../src/nats/index.ts");
    const { InvalidArgument } = await import("../../src/errors.ts");
    expect(() => bridgeToJetStream({ ...base, sourceId: 7 } as never)).toThrow(InvalidArgument);
  });
});
