/**
 * Type-checks chronicle the way a consumer's compiler sees it. The package ships .ts sources, so
 * a project that depends on it compiles them with its own options (skipLibCheck cannot skip
 * sources). This makes a temporary project with the tsconfig `bun init` writes, made stricter,
 * that depends on this checkout through a node_modules symlink (no network), imports every entry
 * of package.json "exports", and runs a tsc against it.
 *
 *   bun run typecheck:consumer [--tsc <path to a tsc> | --tsc bun]   (default: the pinned node_modules/typescript)
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** The checkout this script belongs to. */
export const CHECKOUT = resolve(import.meta.dir, "..");

/** The pinned TypeScript, and the current major release (pinned too, as the `typescript-7` alias). */
export const PINNED_TSC = join(CHECKOUT, "node_modules", "typescript", "bin", "tsc");
export const CURRENT_MAJOR_TSC = join(CHECKOUT, "node_modules", "typescript-7", "bin", "tsc");

/** True when `bun install` has put the dev dependencies the consumer project links to in place. */
export function devDependenciesInstalled(checkout = CHECKOUT): boolean {
  return existsSync(join(checkout, "node_modules", "@types", "bun")) && existsSync(join(checkout, "node_modules", "typescript", "bin", "tsc"));
}

/** Stands for Bun's own checker, `bun check`: what the "typecheck" script of a bun init project runs. */
export const BUN_CHECK = "bun check";

/** compilerOptions of the tsconfig.json that `bun init` (Bun 1.4.5) writes, without its comments. */
const BUN_INIT_COMPILER_OPTIONS = {
  lib: ["ESNext"],
  target: "ESNext",
  module: "Preserve",
  moduleDetection: "force",
  jsx: "react-jsx",
  allowJs: true,
  types: ["bun"],
  moduleResolution: "bundler",
  allowImportingTsExtensions: true,
  verbatimModuleSyntax: true,
  noEmit: true,
  strict: true,
  skipLibCheck: true,
  noFallthroughCasesInSwitch: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  noUnusedLocals: false,
  noUnusedParameters: false,
  noPropertyAccessFromIndexSignature: false,
};

/** The strictest common settings: bun init's, plus what it leaves off (and, stated again, what it may drop one day). */
export const CONSUMER_COMPILER_OPTIONS = {
  ...BUN_INIT_COMPILER_OPTIONS,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  verbatimModuleSyntax: true,
};

/**
 * A file of the consumer that must fail in two known ways, so that a clean result cannot come
 * from a compiler that ignored the strict options.
 */
const CANARY_FILE = "strictness-canary.ts";
const CANARY = `const list: number[] = [];
// noUncheckedIndexedAccess: list[0] is number | undefined (TS2322).
export const first: number = list[0];
const maybe: number | undefined = list[0];
// exactOptionalPropertyTypes: an optional property without "| undefined" refuses undefined (TS2375).
export const exact: { n?: number } = { n: maybe };
`;
export const CANARY_CODES = ["TS2322", "TS2375"];

/** package.json "exports" as [import specifier, file] pairs ("." is the package name itself). */
export function exportEntries(checkout = CHECKOUT): [string, string][] {
  const pkg = JSON.parse(readFileSync(join(checkout, "package.json"), "utf8")) as { name: string; exports: unknown };
  const target = (v: unknown): string => {
    if (typeof v === "string") return v;
    const conditions = v as Record<string, unknown>;
    return target(conditions.types ?? conditions.bun ?? conditions.import ?? conditions.default);
  };
  const exp = pkg.exports;
  const map = typeof exp === "string" || !Object.keys(exp as object).some((k) => k.startsWith(".")) ? { ".": exp } : (exp as Record<string, unknown>);
  return Object.entries(map).map(([sub, v]) => [sub === "." ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, "")}`, resolve(checkout, target(v))]);
}

/**
 * Names exported by the module `file` that end in "Options" (the option types), following
 * `export { ... } from` and `export * from`. Read from the text, so that no compiler is needed.
 */
function optionTypes(file: string, seen = new Set<string>()): string[] {
  if (seen.has(file)) return [];
  seen.add(file);
  const text = readFileSync(file, "utf8");
  const names: string[] = [];
  for (const m of text.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const spec of m[1]!.split(",")) names.push(spec.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop()!);
  }
  for (const m of text.matchAll(/^export\s+(?:interface|type)\s+(\w+)/gm)) names.push(m[1]!);
  for (const m of text.matchAll(/^export\s+\*\s+from\s+"([^"]+)"/gm)) names.push(...optionTypes(resolve(dirname(file), m[1]!), seen));
  return [...new Set(names.filter((n) => n.endsWith("Options")))].sort();
}

/** Writes the consumer project into `dir`. */
export function writeConsumer(dir: string, checkout = CHECKOUT): void {
  const entries = exportEntries(checkout);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "chronicle-consumer", private: true, type: "module", dependencies: { chronicle: `file:${checkout}` } }, null, 2));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: CONSUMER_COMPILER_OPTIONS }, null, 2));
  const modules = join(dir, "node_modules");
  mkdirSync(modules);
  // The checkout's own dev dependencies give the consumer @types/bun (its tsconfig names "bun").
  for (const name of readdirSync(join(checkout, "node_modules"))) {
    if (!name.startsWith(".")) symlinkSync(join(checkout, "node_modules", name), join(modules, name));
  }
  symlinkSync(checkout, join(modules, "chronicle"));
  const lines = ["// Every entry of chronicle's package.json \"exports\", imported as a consumer does."];
  lines.push("type Explicit<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? undefined : T[K] };");
  entries.forEach(([specifier, file], i) => {
    lines.push(`import * as entry${i} from ${JSON.stringify(specifier)};`, `export { entry${i} };`);
    // Consumers under exactOptionalPropertyTypes pass { x: maybeUndefined }: every option must take undefined.
    for (const name of optionTypes(file)) {
      lines.push(`import type { ${name} as E${i}${name} } from ${JSON.stringify(specifier)};`);
      lines.push(`export const explicit${i}${name}: E${i}${name} = {} as Explicit<E${i}${name}>;`);
    }
  });
  writeFileSync(join(dir, "index.ts"), lines.join("\n") + "\n");
  writeFileSync(join(dir, CANARY_FILE), CANARY);
}

export interface ConsumerCheck {
  /** The compiler's version (from its package.json; Bun's for BUN_CHECK). */
  version: string;
  /** Errors outside the canary file (none when the library is clean). */
  errors: string[];
  /** Error codes the canary file got, sorted (CANARY_CODES when the strict options are in effect). */
  canaryCodes: string[];
  /** Files the program compiled (real paths). */
  files: string[];
}

/** A consumer project in a temporary directory, removed on dispose. */
export class ConsumerProject implements Disposable {
  readonly dir: string;

  constructor(checkout = CHECKOUT) {
    this.dir = mkdtempSync(join(tmpdir(), "chronicle-consumer-"));
    try {
      writeConsumer(this.dir, checkout);
    } catch (e) {
      this[Symbol.dispose]();
      throw e;
    }
  }

  /** Runs `tsc` (the path of a tsc script, as in a typescript package's bin/, or BUN_CHECK) over the project. */
  check(tsc = PINNED_TSC): ConsumerCheck {
    const bun = tsc === BUN_CHECK;
    const version = bun ? Bun.version : (JSON.parse(readFileSync(join(dirname(realpathSync(tsc)), "..", "package.json"), "utf8")) as { version: string }).version;
    // bun check groups identical errors above 50 unless --all.
    const cmd = bun ? ["bun", "check", "--no-pretty", "--all"] : ["bun", tsc, "-p", "tsconfig.json", "--pretty", "false"];
    const r = Bun.spawnSync([...cmd, "--listFiles"], { cwd: this.dir, stdout: "pipe", stderr: "pipe" });
    const lines = (r.stdout.toString() + r.stderr.toString()).split("\n").filter((l) => l.length > 0);
    const diagnostics = lines.filter((l) => /(^|\s)error TS\d+/.test(l));
    return {
      version,
      errors: diagnostics.filter((l) => !l.startsWith(CANARY_FILE)),
      canaryCodes: diagnostics.filter((l) => l.startsWith(CANARY_FILE)).map((l) => /error (TS\d+)/.exec(l)![1]!).sort(),
      files: lines.filter((l) => l.startsWith("/")).map((f) => realpathSync(f)),
    };
  }

  [Symbol.dispose](): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Checks with the tsc given by --tsc (default: the pinned one; "bun" for bun check) and reports; true when clean. */
function main(): boolean {
  if (!devDependenciesInstalled()) {
    console.error("the consumer project takes @types/bun and TypeScript from this checkout's dev dependencies: run `bun install` first");
    return false;
  }
  const i = process.argv.indexOf("--tsc");
  const given = i >= 0 ? process.argv[i + 1] ?? "" : PINNED_TSC;
  const tsc = given === "bun" ? BUN_CHECK : resolve(given);
  using project = new ConsumerProject();
  const r = project.check(tsc);
  const entries = exportEntries().map(([specifier]) => specifier).join(", ");
  const canaryOk = r.canaryCodes.join() === CANARY_CODES.join();
  console.log(`${tsc === BUN_CHECK ? "bun check" : "TypeScript"} ${r.version}: ${r.files.length} files compiled for a consumer importing ${entries}`);
  for (const e of r.errors) console.log(e);
  if (!canaryOk) console.log(`strictness canary: expected ${CANARY_CODES.join(", ")}, got ${r.canaryCodes.join(", ") || "no errors"} (are the strict options in effect?)`);
  console.log(r.errors.length === 0 && canaryOk ? "clean" : `${r.errors.length} errors`);
  return r.errors.length === 0 && canaryOk;
}

if (import.meta.main) process.exitCode = main() ? 0 : 1;
