/** Resolving a queue directory argument, with the CLI's exit-2 semantics for non-queues. */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { isQueueDirectory } from "../src/index.ts";
import { CONTROL_FILE } from "../src/queue/layout/index.ts";
import { UsageError } from "./output.ts";

/** Refuses a path that does not exist or is not a directory, saying which. */
export function checkDirectory(dir: string, arg: string, command: string): void {
  if (!existsSync(dir)) throw new UsageError(`${command}: ${arg} does not exist`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${command}: ${arg} is not a directory`);
}

export function queueDir(arg: string | undefined, command: string): string {
  if (arg === undefined) throw new UsageError(`${command}: missing <queue> argument`);
  const dir = resolve(arg);
  checkDirectory(dir, arg, command);
  if (!isQueueDirectory(dir)) throw new UsageError(`${command}: ${arg} is not a chronicle queue (no ${CONTROL_FILE})`);
  return dir;
}
