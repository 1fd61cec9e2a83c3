/** Where things live under a bus root (SPEC section 9). Pure path logic, validated. */
import { join, relative, resolve, sep } from "node:path";
import { UnsafePath } from "../errors.ts";
import { isSymlink } from "../ffi/index.ts";
import { validateComponent, validateDirPath } from "../queue/names.ts";

/** Longest strategy id accepted (a single path component). */
export const MAX_STRATEGY_ID_BYTES = 128;

export interface StrategyEndpoints {
  /** Strategy to router (the strategy writes). */
  ordersOut: string;
  /** Router to strategy (the router writes). */
  ordersIn: string;
}

export class BusLayout {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(validateDirPath(root, "bus root"));
  }

  /** The directory holding one sub-directory per strategy. */
  get strategiesDir(): string {
    return join(this.root, "orders", "queue");
  }

  /** A strategy's directory; throws InvalidArgument for ids that could escape the root. */
  strategyDir(id: string): string {
    return join(this.strategiesDir, validateStrategyId(id, this.root));
  }

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

/** A bus root given as a path or a layout, checked. */
export function busLayout(root: unknown): BusLayout {
  return root instanceof BusLayout ? root : new BusLayout(root as string);
}

/** A strategy id is one path component: non-empty, not "." or "..", no "/" or NUL, bounded length. */
export function validateStrategyId(id: unknown, where = ""): string {
  return validateComponent(id, "strategy id", where, MAX_STRATEGY_ID_BYTES);
}
