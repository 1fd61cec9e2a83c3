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

/** Whether a queue's writer is alive, and what is known of the last one. */
export interface WriterStatus {
  /** True while a writer holds the queue's lock. */
  alive: boolean;
  /** writer.lock names a process that no longer holds it (the writer died without closing). */
  stale: boolean;
  /**
   * The last writer closed cleanly: it cleared its lock record, so its pid is not known; its
   * epoch and its last heartbeat (written at close) are, from the control block.
   */
  closed: boolean;
  /** pid from the lock record (0 when there is none). */
  pid: number;
  /** writer_epoch from the control block (0: no writer ever opened the queue). */
  epoch: number;
  /** The writer's last heartbeat, wall-clock ns (0 when it never wrote one). */
  heartbeatNs: bigint;
  /** ms since the writer's last heartbeat (Infinity when it never wrote one). */
  heartbeatAgeMs: number;
}

/** The writer's status: the lock tells whether it is alive, the control block how recently it beat. */
export function writerStatus(dir: string, control: ControlBlock): WriterStatus {
  const owner = readWriterLock(dir);
  const alive = isFlockHeld(join(dir, WRITER_LOCK_FILE));
  const epoch = control.writerEpoch;
  const heartbeatNs = control.writerHeartbeatNs;
  return {
    alive,
    stale: owner !== null && !alive,
    closed: owner === null && !alive && epoch > 0,
    pid: owner?.pid ?? 0,
    epoch,
    heartbeatNs,
    heartbeatAgeMs: heartbeatAgeMs(heartbeatNs),
  };
}
