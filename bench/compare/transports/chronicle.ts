/** chronicle itself: one queue per direction, a named subscriber per reading process. */
import { join } from "node:path";
import { Queue, type QueueReader, type QueueWriter } from "../../../src/index.ts";
import { aSends, type Endpoint, type FrameHandler, type Guard, type RunSpec, type Transport, type TransportId } from "../types.ts";

type Mode = "spin" | "hybrid" | "async";

/** A receiver that finds nothing re-checks the guard this often. */
const IDLE_CHECK_MS = 100;
const OPEN_TIMEOUT_MS = 10_000;

class ChronicleEndpoint implements Endpoint {
  constructor(
    private readonly mode: Mode,
    private readonly writer: QueueWriter | null,
    private readonly reader: QueueReader | null,
  ) {}

  /** append copies the frame into the segment: no allocation. */
  send(frame: Uint8Array): void {
    this.writer!.append(1, frame);
  }

  /** Hands over the payload in the mapped segment (m.payload would allocate a view per message). */
  async receive(onFrame: FrameHandler, guard: Guard): Promise<void> {
    const reader = this.reader!;
    for (;;) {
      const m = reader.next();
      if (m !== null) {
        if (onFrame(m.buffer, m.payloadOffset, m.length)) return;
      } else if (this.mode === "async") {
        if (!(await reader.waitAsync({ timeoutMs: IDLE_CHECK_MS }))) guard.check();
      } else if (!reader.wait(IDLE_CHECK_MS)) {
        guard.check();
      }
    }
  }

  close(): void {
    this.reader?.close();
    this.writer?.close();
  }
}

function open(mode: Mode, out: string | null, inbound: string | null, name: string): ChronicleEndpoint {
  const writer = out === null ? null : Queue.openPublisher(out, { openTimeoutMs: OPEN_TIMEOUT_MS });
  try {
    const strategy = mode === "spin" ? "spin" : "hybrid";
    const reader = inbound === null ? null : Queue.openSubscriber(inbound, name, { start: "earliest", openTimeoutMs: OPEN_TIMEOUT_MS, wait: { strategy } });
    return new ChronicleEndpoint(mode, writer, reader);
  } catch (e) {
    writer?.close();
    throw e;
  }
}

const COMMON =
  "Persisted in memory-mapped segment files: survives a crash of either process (power loss only after flushSync); " +
  "replay from any retained position; any number of readers, each with its own persisted position; one writer per queue.";

const MODES: Record<Mode, { id: TransportId; label: string; short: string; wait: string }> = {
  spin: { id: "chronicle-spin", label: "chronicle, busy-spin", short: "chronicle spin", wait: "The reader spins on the next commit word: one core at 100% while idle." },
  hybrid: { id: "chronicle-hybrid", label: "chronicle, hybrid wait", short: "chronicle hybrid", wait: "The reader spins 15 µs, then sleeps on a futex: no CPU while idle." },
  async: { id: "chronicle-async", label: "chronicle, waitAsync", short: "chronicle async", wait: "The event loop stays free: a helper thread sleeps on the futex and posts to it." },
};

export function chronicle(mode: Mode): Transport {
  const m = MODES[mode];
  return {
    id: m.id,
    label: m.label,
    short: m.short,
    guarantees: `${COMMON} ${m.wait}`,
    settings: "chronicle: 64 MiB segments, defaults otherwise, a named reader per receiver",
    async openA(spec: RunSpec, spawnPeer) {
      const a2b = join(spec.dir, "a2b");
      const b2a = join(spec.dir, "b2a");
      // The queue B writes must exist before A subscribes to it (openSubscriber waits for it, blocking).
      Queue.openPublisher(b2a).close();
      const endpoint = open(mode, aSends(spec) ? a2b : null, b2a, "a");
      spawnPeer();
      return endpoint;
    },
    async openB(spec: RunSpec) {
      return open(mode, join(spec.dir, "b2a"), aSends(spec) ? join(spec.dir, "a2b") : null, "b");
    },
  };
}
