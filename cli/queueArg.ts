/** Resolving a queue directory argument, with the CLI's exit-2 semantics for non-queues. */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "./output.ts";

export function queueDir(arg: string | undefined, command: string): string {
  if (arg === undefined) throw new UsageError(`${command}: missing <queue> argument`);
  const dir = resolve(arg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${command}: ${arg} is not a directory`);
  if (!existsSync(join(dir, "control.meta"))) throw new UsageError(`${command}: ${arg} is not a chronicle queue (no control.meta)`);
  return dir;
}
