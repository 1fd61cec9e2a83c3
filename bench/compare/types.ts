/** What the comparison bench's processes share: the run spec, the transport interface, the guard. */
import type { Subprocess } from "bun";

export type TransportId = "bare" | "chronicle-spin" | "chronicle-hybrid" | "chronicle-async" | "uds" | "ipc" | "sqlite" | "file" | "redis";
export type MeasureId = "oneWay" | "roundTrip" | "throughput";

/** One measurement between process A (the measuring one) and its child B. Passed to both as JSON. */
export interface RunSpec {
  transport: TransportId;
  measure: MeasureId;
  /** Payload bytes per message (the whole frame; see frames.ts). */
  size: number;
  /** Measured messages (or round trips), after `warmup` unmeasured ones. */
  messages: number;
  warmup: number;
  /** Pause between one-way messages, so the receiver goes to sleep in between. */
  intervalMs: number;
  /** Pause after both ends are open and before the first message (background work settles). */
  settleMs: number;
  /** A directory of this run only; removed by the orchestrator afterwards. */
  dir: string;
  /** What a shared service (the Redis server) told the orchestrator, e.g. its URL. */
  service: Record<string, string>;
  /** Date.now() after which both processes give up. */
  deadline: number;
}

/** Which directions a measure uses: B always sends; A sends only in the round trip. */
export function aSends(spec: RunSpec): boolean {
  return spec.measure === "roundTrip";
}

export function supports(transport: Transport, measure: MeasureId): boolean {
  return transport.measures === undefined || transport.measures.includes(measure);
}

/** Stops a run that took too long or whose parent died; checked whenever a receiver is idle. */
export class Guard {
  private readonly ppid = process.ppid;

  constructor(
    readonly deadline: number,
    private readonly watchParent: boolean,
  ) {}

  check(): void {
    if (Date.now() > this.deadline) throw new Error("timed out");
    // process.ppid is a live getppid(): it changes when the parent dies and we are re-parented.
    if (this.watchParent && process.ppid !== this.ppid) throw new Error("parent process is gone");
  }
}

/**
 * Receives one frame: the `length` bytes of `bytes` from `at`, in place (e.g. in a mapped segment
 * or a socket chunk), so that receiving allocates nothing. Valid during the call only; never write
 * to `bytes`. Returns true to stop receiving.
 */
export type FrameHandler = (bytes: Uint8Array, at: number, length: number) => boolean;

/** One process's end of a transport. */
export interface Endpoint {
  /** Sends one frame. The frame may be reused on return; a promise means "wait before sending more". */
  send(frame: Uint8Array): void | Promise<void>;
  /** Calls `onFrame` for each frame received, in order, until it returns true. */
  receive(onFrame: FrameHandler, guard: Guard): Promise<void>;
  close(): void | Promise<void>;
  /** Transport-specific counts reported with the run (e.g. wake-ups recovered by a fallback). */
  counters?(): Record<string, number>;
}

/** Extra Bun.spawn options a transport needs for process B (IPC). */
export interface PeerSpawnExtra {
  serialization?: "advanced" | "json";
  ipc?: (message: unknown) => void;
}

/** B's stderr goes to a file descriptor (a file A reads after the run, see peer.ts). */
export type SpawnPeer = (extra?: PeerSpawnExtra) => Subprocess<"pipe", "pipe", number>;

/** A server shared by all runs of a transport, started and stopped by the orchestrator. */
export interface Service {
  readonly info: Record<string, string>;
  stop(): Promise<void>;
}

export interface Transport {
  readonly id: TransportId;
  /** Name in tables. */
  readonly label: string;
  /** Name in the chart (short; a space may become a line break). */
  readonly short: string;
  /** What it guarantees (persistence, replay, readers), printed next to its figures. */
  readonly guarantees: string;
  /** How the bench sets it up, for the method notes ("SQLite: WAL, ..."); transports may share one. */
  readonly settings: string;
  /** Why it cannot run on this machine, or null. */
  unavailable?(): string | null;
  /** The measures it supports, when not all of them. */
  readonly measures?: readonly MeasureId[];
  startService?(root: string): Promise<Service>;
  /** In process A: creates the channels in spec.dir, starts B with `spawnPeer`, opens A's end. */
  openA(spec: RunSpec, spawnPeer: SpawnPeer): Promise<Endpoint>;
  /** In process B: opens B's end (the channels exist). */
  openB(spec: RunSpec): Promise<Endpoint>;
}
