/** Where things live under a bus root (SPEC section 9). Pure path logic, validated. */
import { join, resolve } from "node:path";
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

/** A bus root given as a path or a layout, checked. */
export function busLayout(root: unknown): BusLayout {
  return root instanceof BusLayout ? root : new BusLayout(root as string);
}

/** A strategy id is one path component: non-empty, not "." or "..", no "/" or NUL, bounded length. */
export function validateStrategyId(id: unknown, where = ""): string {
  return validateComponent(id, "strategy id", where, MAX_STRATEGY_ID_BYTES);
}
