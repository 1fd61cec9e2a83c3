/**
 * `bun pm pack` makes a clean package: sources, CLI, docs, examples, README and LICENSE, nothing
 * of the tests, benchmarks or tooling, every relative import resolvable inside it; and a project
 * that installs the tarball (offline) can use the library and the `chronicle` command.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CHECKOUT } from "../scripts/consumer-typecheck.ts";
import { TempDir } from "./helpers/tmp.ts";

/** Top-level entries a package may hold: everything else (test/, bench/, scripts/, .ci/, lock and config files) stays out. */
const ALLOWED_TOP = ["package.json", "README.md", "LICENSE", "src", "cli", "docs", "examples"];
const REQUIRED = ["package.json", "README.md", "LICENSE", "src/index.ts", "cli/main.ts", "docs/FORMAT.md"];
/** A registry that refuses connections: installing the tarball must not need the network. */
const OFFLINE = { BUN_CONFIG_REGISTRY: "http://127.0.0.1:9/", NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/" };

function run(cmd: string[], cwd: string, env: Record<string, string> = {}): string {
  const r = Bun.spawnSync(cmd, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** Relative module specifiers of a source file: imports, re-exports, dynamic imports and worker URLs. */
function relativeImports(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|new URL\(\s*)"(\.\.?\/[^"]+)"/g)) out.push(m[1]!);
  return out;
}

describe("the packed package", () => {
  test("holds the library, CLI and docs only, and installs offline into a project that can use it", () => {
    using tmp = new TempDir("chronicle-pack-");
    const tarball = run(["bun", "pm", "pack", "--destination", tmp.path, "--quiet"], CHECKOUT).trim().split("\n").pop()!;
    const files = run(["tar", "tzf", tarball], tmp.path).split("\n").filter((f) => f.length > 0 && !f.endsWith("/")).map((f) => f.replace(/^package\//, ""));

    for (const f of REQUIRED) expect(files).toContain(f);
    expect(files.filter((f) => !ALLOWED_TOP.includes(f.split("/")[0]!))).toEqual([]);
    expect(files.filter((f) => /\.test\.ts$|(^|\/)fixtures\//.test(f))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(CHECKOUT, "package.json"), "utf8")) as { exports: Record<string, string>; bin: Record<string, string> };
    for (const target of [...Object.values(pkg.exports), ...Object.values(pkg.bin)]) expect(files).toContain(target.replace(/^\.\//, ""));

    // Every relative import of a packed source points at a packed file (none into test/ or bench/).
    const unpacked = tmp.join("unpacked");
    run(["mkdir", unpacked], tmp.path);
    run(["tar", "xzf", tarball, "-C", unpacked, "--strip-components=1"], tmp.path);
    const dangling: string[] = [];
    for (const f of files.filter((f) => f.endsWith(".ts"))) {
      for (const spec of relativeImports(readFileSync(join(unpacked, f), "utf8"))) {
        const target = resolve(dirname(join(unpacked, f)), spec).slice(unpacked.length + 1);
        if (!files.includes(target)) dangling.push(`${f} -> ${spec}`);
      }
    }
    expect(dangling).toEqual([]);

    const app = tmp.join("app");
    run(["mkdir", app], tmp.path);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    run(["bun", "add", tarball], app, OFFLINE);
    writeFileSync(join(app, "main.ts"), [
      'import { Queue } from "chronicle";',
      "const dir = process.argv[2]!;",
      "using w = Queue.openPublisher(dir);",
      'w.append(7, new TextEncoder().encode("hello"));',
      "using r = Queue.openAnonymous(dir);",
      "const m = r.next()!;",
      "console.log(m.typeId, new TextDecoder().decode(m.payload));",
    ].join("\n"));
    expect(run(["bun", "main.ts", tmp.join("queue")], app)).toBe("7 hello\n");
    // The package's bin is linked: the project runs this CLI, not the unrelated npm "chronicle".
    expect(run(["bun", "node_modules/.bin/chronicle", "inspect", "--json", tmp.join("queue")], app)).toContain('"nextSeq": 1');
  }, 60_000);
});
