/** Liveness: how old a heartbeat is, and whether a queue's writer is alive. */
import { join } from "node:path";
import { isFlockHeld, realtimeNs } from "../ffi/index.ts";
import type { ControlBlock } from "./control.ts";
import { readWriterLock } from "./writerLock.ts";
import { WRITER_LOCK_FILE } from "./layout/index.ts";

/** Wall-clock ms now, for comparing with heartbeats. */
export function wallClockMs(): number {
  return Number(realtimeNs() / 1_000_000n);
}

/** ms since a heartbeat stored as wall-clock ns (0 = never written: Infinity). */
export function heartbeatAgeMs(heartbeatNs: number | bigint, nowMs = wallClockMs()): number {
  return heartbeatNs > 0 ? Math.max(0, nowMs - Number(heartbeatNs) / 1e6) : Infinity;
}

export interface WriterStatus {
  /** True while a writer holds the queue's lock. */
  alive: boolean;
  /** writer.lock names a process that no longer holds it (the writer exited or died). */
  stale: boolean;
  /** pid from the lock record (0 when there is none). */
  pid: number;
  /** writer_epoch from the control block. */
  epoch: number;
  /** ms since the writer's last heartbeat (Infinity when it never wrote one). */
  heartbeatAgeMs: number;
}

/** The writer's status: the lock tells whether it is alive, the control block how recently it beat. */
export function writerStatus(dir: string, control: ControlBlock): WriterStatus {
  const owner = readWriterLock(dir);
  const alive = isFlockHeld(join(dir, WRITER_LOCK_FILE));
  return {
    alive,
    stale: owner !== null && !alive,
    pid: owner?.pid ?? 0,
    epoch: control.writerEpoch,
    heartbeatAgeMs: heartbeatAgeMs(control.writerHeartbeatNs),
  };
}
