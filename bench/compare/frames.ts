/**
 * The message every transport carries: `size` bytes, all below 0x80 so the frame survives a
 * round trip through a JavaScript string unchanged (Bun's Redis client returns UTF-8 decoded
 * strings, and 7-bit bytes are their own UTF-8).
 *
 *   bytes 0..7    send stamp, CLOCK_MONOTONIC ns, 7 bits per byte, little-endian (0 = unstamped)
 *   bytes 8..11   sequence number, 7 bits per byte (up to 2^28)
 *   bytes 12..    PATTERN from offset seq % 95, so every byte depends on the sequence number
 */
export const FRAME_HEADER = 12;
export const MIN_FRAME = 64;
const PERIOD = 95;
const MAX_PATTERN = 1 << 16;

/** Printable ASCII with period 95; Buffer for its native compare(). */
const PATTERN = Buffer.alloc(MAX_PATTERN + PERIOD);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = 32 + (i % PERIOD);

const TWO28 = 2 ** 28;

/** The pattern for each start offset k, cut to one payload length (cached: no allocation per frame). */
let patternSize = -1;
let patterns: Uint8Array[] = [];

function patternFor(seq: number, size: number): Uint8Array {
  if (size !== patternSize) {
    patterns = Array.from({ length: PERIOD }, (_, k) => PATTERN.subarray(k, k + size - FRAME_HEADER));
    patternSize = size;
  }
  return patterns[seq % PERIOD];
}

export function writeFrame(frame: Uint8Array, seq: number, stampNs: number): void {
  // The stamp (< 2^53) as two 28-bit halves, so the packing is integer shifts.
  const lo = stampNs % TWO28;
  const hi = (stampNs - lo) / TWO28;
  frame[0] = lo & 0x7f;
  frame[1] = (lo >>> 7) & 0x7f;
  frame[2] = (lo >>> 14) & 0x7f;
  frame[3] = (lo >>> 21) & 0x7f;
  frame[4] = hi & 0x7f;
  frame[5] = (hi >>> 7) & 0x7f;
  frame[6] = (hi >>> 14) & 0x7f;
  frame[7] = (hi >>> 21) & 0x7f;
  frame[8] = seq & 0x7f;
  frame[9] = (seq >>> 7) & 0x7f;
  frame[10] = (seq >>> 14) & 0x7f;
  frame[11] = (seq >>> 21) & 0x7f;
  frame.set(patternFor(seq, frame.length), FRAME_HEADER);
}

export function frameStamp(frame: Uint8Array): number {
  const lo = frame[0] | (frame[1] << 7) | (frame[2] << 14) | (frame[3] << 21);
  const hi = frame[4] | (frame[5] << 7) | (frame[6] << 14) | (frame[7] << 21);
  return hi * TWO28 + lo;
}

export function frameSeq(frame: Uint8Array): number {
  return frame[8] | (frame[9] << 7) | (frame[10] << 14) | (frame[11] << 21);
}

/** Throws unless `frame` is message `seq` of `size` bytes, byte for byte. */
export function checkFrame(frame: Uint8Array, seq: number, size: number): void {
  if (frame.length !== size) throw new Error(`message ${seq}: ${frame.length} bytes, expected ${size}`);
  const got = frameSeq(frame);
  if (got !== seq) throw new Error(`expected message ${seq}, received ${got} (lost, duplicated or reordered)`);
  const k = seq % PERIOD;
  if (PATTERN.compare(frame, FRAME_HEADER, size, k, k + size - FRAME_HEADER) !== 0) {
    throw new Error(`message ${seq}: payload bytes differ from what was sent`);
  }
}

export function checkFrameSize(size: number): void {
  if (!Number.isInteger(size) || size < MIN_FRAME || size > MAX_PATTERN) throw new Error(`payload size ${size} outside ${MIN_FRAME}..${MAX_PATTERN}`);
}

/** Cuts a byte stream (socket, file) into fixed-size frames; keeps a partial frame between chunks. */
export class FrameSplitter {
  private readonly partial: Uint8Array;
  private have = 0;

  constructor(private readonly size: number) {
    this.partial = new Uint8Array(size);
  }

  /** Calls `deliver` for each complete frame in `chunk` (views into it or into the partial buffer). */
  push(chunk: Uint8Array, deliver: (frame: Uint8Array) => void): void {
    const size = this.size;
    let o = 0;
    if (this.have > 0) {
      const take = Math.min(size - this.have, chunk.length);
      this.partial.set(chunk.subarray(0, take), this.have);
      this.have += take;
      o = take;
      if (this.have < size) return;
      this.have = 0;
      deliver(this.partial);
    }
    for (; o + size <= chunk.length; o += size) deliver(chunk.subarray(o, o + size));
    if (o < chunk.length) {
      this.partial.set(chunk.subarray(o));
      this.have = chunk.length - o;
    }
  }
}
