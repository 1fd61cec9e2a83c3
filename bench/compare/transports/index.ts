/** Every transport of the comparison, in report order; the Unix socket is the baseline. */
import type { Transport, TransportId } from "../types.ts";
import { chronicle } from "./chronicle.ts";
import { file } from "./file.ts";
import { ipc } from "./ipc.ts";
import { redis } from "./redis.ts";
import { sqlite } from "./sqlite.ts";
import { uds } from "./uds.ts";

export const BASELINE: TransportId = "uds";

export const TRANSPORTS: readonly Transport[] = [chronicle("spin"), chronicle("hybrid"), chronicle("async"), uds, ipc, sqlite, file, redis];

export function transportById(id: string): Transport {
  const t = TRANSPORTS.find((x) => x.id === id);
  if (t === undefined) throw new Error(`unknown transport "${id}" (known: ${TRANSPORTS.map((x) => x.id).join(", ")})`);
  return t;
}
