/** Every transport of the comparison, in report order: the bare loop (the floor) first. */
import type { Transport } from "../types.ts";
import { bare } from "./bare.ts";
import { chronicle } from "./chronicle.ts";
import { file } from "./file.ts";
import { ipc } from "./ipc.ts";
import { redis } from "./redis.ts";
import { sqlite } from "./sqlite.ts";
import { uds } from "./uds.ts";

export const TRANSPORTS: readonly Transport[] = [bare, chronicle("spin"), chronicle("hybrid"), chronicle("async"), uds, ipc, sqlite, file, redis];

export function transportById(id: string): Transport {
  const t = TRANSPORTS.find((x) => x.id === id);
  if (t === undefined) throw new Error(`unknown transport "${id}" (known: ${TRANSPORTS.map((x) => x.id).join(", ")})`);
  return t;
}
