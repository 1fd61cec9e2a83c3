/**
 * The floor, not a transport: a message's protocol work without the library (no persistence, no
 * record header or checksum, no reader position, no wake-ups). Both processes map one small file
 * in the run's directory read-write (the library's Mapping) holding a ring of RING slots per
 * direction; frame n (from 1) goes to slot n % RING:
 *
 *   slot + 0     sequence word (i32): the number of the frame last published into the slot
 *   slot + 64    the frame, on the next cache line (as a chronicle payload follows its 64-byte header)
 *
 * send copies the frame into its slot, then stores its number in the slot's word (Atomics.store).
 * receive spins on a plain load of the next slot's word followed by the fence the library's
 * reader uses (an Atomics read-modify-write of a private word) and hands the frame over in place.
 *
 * There is no flow control: a sender more than RING frames ahead of its receiver overwrites
 * frames not yet read, which the receiver detects (the run fails). So no throughput measure; the
 * round trip has one frame in flight, and one-way frames come a millisecond apart, which leaves a
 * receiver RING ms (stalls, a late start) to fall behind. The ring spans a few pages, reused
 * every RING frames: unlike a chronicle segment, nothing here is written for the first time.
 */
import { join } from "node:path";
import { closeFd, ftruncateFd, Mapping, O_CREAT, O_RDWR, openFd, PAGE_SIZE } from "../../../src/ffi/index.ts";
import type { Endpoint, FrameHandler, Guard, RunSpec, Transport } from "../types.ts";

const RING = 64;
const FRAME_OFF = 64;
/** Slots are whole multiples of this long: no two share a cache line (nor a prefetched pair of lines). */
const SLOT_ALIGN = 128;
/** A spinning receiver checks its guard every this many empty polls (well under a millisecond). */
const GUARD_POLLS = 1 << 16;
/** The fence's target: a word of this process, never the shared page. */
const FENCE = new Int32Array(1);

const slotBytes = (size: number): number => Math.ceil((FRAME_OFF + size) / SLOT_ALIGN) * SLOT_ALIGN;
const fileBytes = (size: number): number => Math.ceil((2 * RING * slotBytes(size)) / PAGE_SIZE) * PAGE_SIZE;
const pathOf = (spec: RunSpec): string => join(spec.dir, "bare.shm");

class BareEndpoint implements Endpoint {
  private sent = 0;
  private received = 0;
  private readonly stride: number;

  /** `out` and `inbound`: byte offsets of the ring this end writes and of the one it reads. */
  constructor(
    private readonly mapping: Mapping,
    private readonly out: number,
    private readonly inbound: number,
    private readonly size: number,
  ) {
    this.stride = slotBytes(size);
  }

  send(frame: Uint8Array): void {
    if (frame.length !== this.size) throw new Error(`a frame of ${frame.length} bytes for slots of ${this.size}`);
    const n = this.sent + 1;
    const slot = this.out + (n % RING) * this.stride;
    this.mapping.u8.set(frame, slot + FRAME_OFF);
    Atomics.store(this.mapping.i32, slot >> 2, n);
    this.sent = n;
  }

  async receive(onFrame: FrameHandler, guard: Guard): Promise<void> {
    const { u8, i32 } = this.mapping;
    const size = this.size;
    let polls = 0;
    for (;;) {
      const n = this.received + 1;
      const slot = this.inbound + (n % RING) * this.stride;
      const word = slot >> 2;
      const seq = i32[word]!;
      Atomics.add(FENCE, 0, 0);
      if (seq !== n) {
        // The slot holds frame n - RING (or nothing yet), or a later one: n was overwritten.
        if (seq > n) throw new Error(`frame ${n} was overwritten before it was read (frame ${seq} is in its slot)`);
        if (++polls === GUARD_POLLS) {
          polls = 0;
          guard.check();
        }
        continue;
      }
      this.received = n;
      const done = onFrame(u8, slot + FRAME_OFF, size);
      if (Atomics.load(i32, word) !== n) throw new Error(`frame ${n} was overwritten while it was being read`);
      if (done) return;
    }
  }

  close(): void {
    this.mapping.unmap();
  }
}

function mapFile(spec: RunSpec, flags: number): Mapping {
  const path = pathOf(spec);
  const fd = openFd(path, flags, 0o600);
  try {
    if ((flags & O_CREAT) !== 0) ftruncateFd(fd, fileBytes(spec.size), path);
    return Mapping.map(fd, fileBytes(spec.size), path);
  } finally {
    closeFd(fd);
  }
}

/** A's end writes the first ring (a2b) and reads the second (b2a); B's the other way round. */
function endpoint(spec: RunSpec, mapping: Mapping, role: "a" | "b"): BareEndpoint {
  const ring = RING * slotBytes(spec.size);
  return role === "a" ? new BareEndpoint(mapping, 0, ring, spec.size) : new BareEndpoint(mapping, ring, 0, spec.size);
}

export const bare: Transport = {
  id: "bare",
  label: "bare spin loop, shared mapping",
  short: "bare loop",
  guarantees:
    `None: the floor under the others, not a transport. A ring of ${RING} frames per direction in a shared mapping without flow control ` +
    "(a sender that far ahead overwrites unread frames), nothing persisted, no replay, one reader. The reader spins on the next slot's word: one core at 100% while idle.",
  settings: `bare loop: a ring of ${RING} slots per direction in a mapped file (sequence word, frame on the next cache line), Atomics.store to publish, the reader spinning`,
  measures: ["oneWay", "roundTrip"],
  async openA(spec: RunSpec, spawnPeer) {
    const ep = endpoint(spec, mapFile(spec, O_RDWR | O_CREAT), "a");
    spawnPeer();
    return ep;
  },
  async openB(spec: RunSpec) {
    return endpoint(spec, mapFile(spec, O_RDWR), "b");
  },
};
