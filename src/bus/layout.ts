/** Where things live under a bus root (docs/FORMAT.md, Bus layout). Pure path logic, validated. */
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { UnsafePath } from "../errors.ts";
import { isSymlink, mkdirOne, statOwner } from "../ffi/index.ts";
import { checkMode, checkOwnDirectory, currentUid, DEFAULT_FILE_MODE } from "../queue/access.ts";
import { checkBoolean, checkOptions } from "../queue/args.ts";
import { validateComponent, validateDirPath } from "../queue/names.ts";

/** Longest strategy id accepted (a single path component). */
export const MAX_STRATEGY_ID_BYTES = 128;

/** The two queue directories of one strategy. */
export interface StrategyEndpoints {
  /** Strategy to router (the strategy writes). */
  ordersOut: string;
  /** Router to strategy (the router writes). */
  ordersIn: string;
}

/** Options of {@link BusLayout}. */
export interface BusLayoutOptions {
  /** Use a bus root owned by another user or writable by group/others (default false: UnsafePath). */
  allowShared?: boolean | undefined;
  /** Mode of the files created under the root (default 0o600; directories 0o700), whatever the umask. */
  mode?: number | undefined;
}

/** Where everything lives under a bus root (pure path logic; ids are checked so nothing escapes the root). */
export class BusLayout {
  readonly root: string;
  readonly allowShared: boolean;
  /** File mode for what is created under the root; directories get dirModeFor(mode). */
  readonly mode: number;

  constructor(root: string, options?: BusLayoutOptions) {
    this.root = resolve(validateDirPath(root, "bus root"));
    const opts = checkOptions(options, "bus layout options", this.root);
    checkBoolean(opts.allowShared, "allowShared", this.root);
    checkMode(opts.mode, this.root);
    this.allowShared = opts.allowShared ?? false;
    this.mode = opts.mode ?? DEFAULT_FILE_MODE;
  }

  /**
   * Throws UnsafePath when the root exists and is owned by another user or writable by group or
   * others (unless `allowShared`, here or in the layout's options).
   */
  checkRoot(allowShared = this.allowShared): void {
    checkOwnDirectory(this.root, "bus root", allowShared);
  }

  /** The directory holding one sub-directory per strategy. */
  get strategiesDir(): string {
    return join(this.root, "orders", "queue");
  }

  /** A strategy's directory; throws InvalidArgument for ids that could escape the root. */
  strategyDir(id: string): string {
    return join(this.strategiesDir, validateStrategyId(id, this.root));
  }

  /** A strategy's orders_out (strategy to router) and orders_in (router to strategy) queue directories. */
  strategyEndpoints(id: string): StrategyEndpoints {
    const dir = this.strategyDir(id);
    return { ordersOut: join(dir, "orders_out"), ordersIn: join(dir, "orders_in") };
  }

  /** A market-data queue (not part of the shared spec; used by the examples). */
  feed(name = "main"): string {
    return join(this.root, "market", validateComponent(name, "feed name", this.root, MAX_STRATEGY_ID_BYTES));
  }
}

/**
 * The first component of `path` below the bus root that is a symbolic link, or null. The root
 * itself is the caller's to name; everything under it must be real directories, so nothing
 * planted under the root can redirect the router outside it.
 */
export function symlinkBelowRoot(layout: BusLayout, path: string): string | null {
  const rel = relative(layout.root, resolve(path));
  if (rel === "" || rel.startsWith("..")) return null;
  let at = layout.root;
  for (const part of rel.split(sep)) {
    at = join(at, part);
    if (isSymlink(at)) return at;
  }
  return null;
}

/** Throws UnsafePath when a component of `path` below the bus root is a symbolic link. */
export function refuseSymlinkBelowRoot(layout: BusLayout, path: string): void {
  const link = symlinkBelowRoot(layout, path);
  if (link !== null) throw new UnsafePath(link, "is a symbolic link under the bus root; strategy directories and endpoints must be real directories (remove the link)");
}

/**
 * This user's directory for chronicle's default paths: `$XDG_RUNTIME_DIR` when it is set, absolute
 * and a directory of this user that nobody else may write, else `<tmp>/chronicle-<uid>`, created
 * mode 0700 and refused (UnsafePath) when someone else made it or may write it.
 */
export function userRuntimeDir(env: Record<string, string | undefined> = process.env): { dir: string; prefix: string } {
  const uid = currentUid();
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg !== undefined && isAbsolute(xdg)) {
    const st = statOwner(xdg);
    if (st !== null && st.isDirectory && st.uid === uid && (st.mode & 0o022) === 0 && !isSymlink(xdg)) return { dir: xdg, prefix: "chronicle-" };
  }
  const dir = join(tmpdir(), `chronicle-${uid}`);
  mkdirOne(dir, 0o700);
  const st = statOwner(dir);
  if (isSymlink(dir) || st === null || !st.isDirectory || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new UnsafePath(dir, `this user's directory for chronicle is ${st === null ? "missing" : `owned by uid ${st.uid} with mode 0${st.mode.toString(8)}`}, expected uid ${uid} and mode 0700 (another user may have created it); remove it, or set XDG_RUNTIME_DIR`);
  }
  return { dir, prefix: "" };
}

/** A per-user default path: `$XDG_RUNTIME_DIR/chronicle-<name>` or `<tmp>/chronicle-<uid>/<name>`. */
export function defaultUserPath(name: string, env: Record<string, string | undefined> = process.env): string {
  const { dir, prefix } = userRuntimeDir(env);
  return join(dir, prefix + validateComponent(name, "name", dir, MAX_STRATEGY_ID_BYTES));
}

/** The default bus root: `$XDG_RUNTIME_DIR/chronicle-bus`, else `<tmp>/chronicle-<uid>/bus`. */
export function defaultBusRoot(env: Record<string, string | undefined> = process.env): string {
  return defaultUserPath("bus", env);
}

/** A bus root given as a path or a layout, checked. */
export function busLayout(root: unknown): BusLayout {
  return root instanceof BusLayout ? root : new BusLayout(root as string);
}

/** A strategy id is one path component: non-empty, not "." or "..", no "/" or NUL, bounded length. */
export function validateStrategyId(id: unknown, where = ""): string {
  return validateComponent(id, "strategy id", where, MAX_STRATEGY_ID_BYTES);
}
