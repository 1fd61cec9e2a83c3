/**
 * The three measurements, as played by process A (measures, verifies every message) and process
 * B (sends or echoes). Latencies are returned in µs, rates per second. Both mark on stderr where
 * their measured messages begin and end, for the GC count (gc.ts). Nothing here allocates per
 * message: frames are checked in place and sent from one buffer per process.
 */
import { monotonicNs } from "../../src/ffi/index.ts";
import { distribution } from "../stats.ts";
import { checkFrame, copyBytes, frameStamp, writeFrame } from "./frames.ts";
import { GcSpan } from "./gc.ts";
import type { Endpoint, Guard, MeasureId, RunSpec } from "./types.ts";

export type Values = Record<string, number>;

interface Measure {
  a(ep: Endpoint, spec: RunSpec, guard: Guard): Promise<Values>;
  b(ep: Endpoint, spec: RunSpec, guard: Guard): Promise<void>;
}

/** Percentiles of nanosecond samples, in µs (to the nanosecond). */
function latencyValues(samples: Float64Array): Values {
  const values: Values = { ...distribution(samples) };
  for (const key of Object.keys(values)) values[key] = Math.round(values[key]!) / 1000;
  return values;
}

/** A measure's message counts, and the markers of its measured part (gc.ts), written as it goes. */
function start(spec: RunSpec): { size: number; warmup: number; total: number; gc: GcSpan } {
  return { size: spec.size, warmup: spec.warmup, total: spec.warmup + spec.messages, gc: new GcSpan(spec.warmup) };
}

/** Sends every frame B has to send; `stamp(i)` gives its send stamp, `pace` runs before each. */
async function sendAll(ep: Endpoint, spec: RunSpec, guard: Guard, stamp: (i: number) => number, pace?: () => Promise<void>): Promise<void> {
  const { size, total, gc } = start(spec);
  const frame = new Uint8Array(size);
  for (let i = 0; i < total; i++) {
    gc.reached(i);
    if (pace !== undefined) await pace();
    if (pace !== undefined || (i & 1023) === 0) guard.check();
    writeFrame(frame, i, stamp(i));
    const wait = ep.send(frame);
    if (wait !== undefined) await wait;
  }
  gc.end();
}

/** B sends a stamped frame every `intervalMs`; A, idle in between, records arrival minus stamp. */
const oneWay: Measure = {
  async a(ep, spec, guard) {
    const { size, warmup, total, gc } = start(spec);
    const samples = new Float64Array(spec.messages);
    let i = 0;
    await ep.receive((bytes, at, length) => {
      const now = monotonicNs();
      checkFrame(bytes, at, length, i, size);
      if (i >= warmup) samples[i - warmup] = now - frameStamp(bytes, at);
      gc.reached(++i);
      return i === total;
    }, guard);
    gc.end();
    return latencyValues(samples);
  },
  b(ep, spec, guard) {
    return sendAll(ep, spec, guard, () => monotonicNs(), () => Bun.sleep(spec.intervalMs));
  },
};

/** A sends, B echoes, A sends the next as soon as the echo is in. */
const roundTrip: Measure = {
  async a(ep, spec, guard) {
    const { size, warmup, total, gc } = start(spec);
    const samples = new Float64Array(spec.messages);
    const frame = new Uint8Array(size);
    let i = 0;
    writeFrame(frame, 0, 0);
    let t0 = Bun.nanoseconds();
    void ep.send(frame);
    await ep.receive((bytes, at, length) => {
      const now = Bun.nanoseconds();
      checkFrame(bytes, at, length, i, size);
      if (i >= warmup) samples[i - warmup] = now - t0;
      if (++i === total) return true;
      gc.reached(i);
      writeFrame(frame, i, 0);
      t0 = Bun.nanoseconds();
      // Transports queue what they cannot send at once, in order; there is one frame in flight.
      void ep.send(frame);
      return false;
    }, guard);
    gc.end();
    return latencyValues(samples);
  },
  /** Echoes from a buffer of its own: the received bytes are valid only during the call. */
  async b(ep, spec, guard) {
    const { size, total, gc } = start(spec);
    const frame = new Uint8Array(size);
    let n = 0;
    await ep.receive((bytes, at, length) => {
      // A checks the rest; a frame of another length must not be cut or padded to look right.
      if (length !== size) throw new Error(`message ${n}: ${length} bytes, expected ${size}`);
      copyBytes(bytes, at, length, frame, 0);
      void ep.send(frame);
      gc.reached(++n);
      return n === total;
    }, guard);
    gc.end();
  },
};

/**
 * B sends as fast as the transport takes frames; A verifies each. The rate runs from B's stamp
 * on the first measured frame (after `warmup`) to A's receipt of the last one.
 */
const throughput: Measure = {
  async a(ep, spec, guard) {
    const { size, warmup, total, gc } = start(spec);
    let i = 0;
    let t0 = 0;
    let t1 = 0;
    await ep.receive((bytes, at, length) => {
      checkFrame(bytes, at, length, i, size);
      if (i === warmup) t0 = frameStamp(bytes, at);
      gc.reached(++i);
      if (i < total) return false;
      t1 = monotonicNs();
      return true;
    }, guard);
    gc.end();
    const seconds = (t1 - t0) / 1e9;
    return { msgsPerSec: spec.messages / seconds, mbPerSec: (spec.messages * size) / seconds / 1e6, seconds };
  },
  b(ep, spec, guard) {
    return sendAll(ep, spec, guard, (i) => (i === spec.warmup ? monotonicNs() : 0));
  },
};

export const MEASURES: Record<MeasureId, Measure> = { oneWay, roundTrip, throughput };
