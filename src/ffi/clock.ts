/** Clocks. Wall-clock nanoseconds are kept as two u32 halves so hot paths avoid BigInt. */
import { ptr } from "bun:ffi";
import { libc, CLOCK_MONOTONIC, CLOCK_REALTIME } from "./libc.ts";

const TWO32 = 4294967296;
/** Bracketed realtime calls tried for a WallClock anchor, and a bracket short enough to stop at. */
const ANCHOR_TRIES = 4;
const ANCHOR_GOOD_NS = 2_000;
const ts = new BigInt64Array(2);
const tsPtr = ptr(ts);

/** clock_gettime(CLOCK_REALTIME) in nanoseconds as a BigInt (for cold paths). */
export function realtimeNs(): bigint {
  libc.clock_gettime(CLOCK_REALTIME, tsPtr);
  return ts[0]! * 1_000_000_000n + ts[1]!;
}

/** clock_gettime(CLOCK_MONOTONIC) in nanoseconds: one clock for every process on the host. */
export function monotonicNs(): number {
  libc.clock_gettime(CLOCK_MONOTONIC, tsPtr);
  return Number(ts[0]) * 1e9 + Number(ts[1]);
}

/**
 * Wall-clock nanoseconds without a syscall or BigInt per reading: a realtime anchor taken once,
 * advanced by the monotonic `Bun.nanoseconds()`. Readings do not follow later clock steps (NTP),
 * which is what a timestamp ordering wants anyway.
 */
export class WallClock {
  private readonly anchorHi: number;
  private readonly anchorLo: number;
  private readonly anchorMono: number;
  /** High 32 bits of the last reading. */
  hi = 0;
  /** Low 32 bits of the last reading. */
  lo = 0;

  constructor() {
    // The monotonic anchor is taken after the realtime call, so readings may lag the wall clock
    // by the call's return but never run ahead of it. The first call in a process is slow (the
    // FFI binding warms up: hundreds of µs), so the tightest of a few bracketed calls is kept.
    let best = Infinity;
    let now = 0n;
    let mono = 0;
    for (let i = 0; i < ANCHOR_TRIES && best > ANCHOR_GOOD_NS; i++) {
      const before = Bun.nanoseconds();
      const real = realtimeNs();
      const after = Bun.nanoseconds();
      if (after - before < best) {
        best = after - before;
        now = real;
        mono = after;
      }
    }
    this.anchorMono = mono;
    this.anchorHi = Number(now >> 32n);
    this.anchorLo = Number(now & 0xffffffffn);
  }

  /** Reads the clock into `hi`/`lo`. */
  read(): void {
    const x = this.anchorLo + (Bun.nanoseconds() - this.anchorMono);
    const carry = Math.floor(x / TWO32);
    this.lo = x - carry * TWO32;
    this.hi = this.anchorHi + carry;
  }
}
