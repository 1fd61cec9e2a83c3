/** Bus fixtures shared by the bus tests and their child processes. */
import { markReady, type BusLayout } from "../../src/index.ts";
import { createQueue } from "./queue.ts";

/** Creates strategy `id`'s orders_out queue and, unless `ready` is false, marks it READY; returns orders_out. */
export function createStrategy(layout: BusLayout, id: string, ready = true): string {
  const { ordersOut } = layout.strategyEndpoints(id);
  createQueue(ordersOut, { segmentSize: 1 << 16, preallocate: false });
  if (ready) markReady(ordersOut);
  return ordersOut;
}
