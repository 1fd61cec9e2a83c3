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

/** Printable ASCII with period 95; a Buffer for its native compare() and copy(). */
const PATTERN = Buffer.alloc(MAX_PATTERN + PERIOD);
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = 32 + (i % PERIOD);

/** Buffer's native copy, which takes a plain Uint8Array as `this` and allocates nothing (a subarray would). */
const nativeCopy = Buffer.prototype.copy;

/** Copies `length` bytes from `src[at]` to `dst[to]`, without allocating. */
export function copyBytes(src: Uint8Array, at: number, length: number, dst: Uint8Array, to: number): void {
  nativeCopy.call(src, dst, to, at, at + length);
}

const TWO28 = 2 ** 28;

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
  copyBytes(PATTERN, seq % PERIOD, frame.length - FRAME_HEADER, frame, FRAME_HEADER);
}

/** The send stamp of the frame at `bytes[at]`. */
export function frameStamp(bytes: Uint8Array, at: number): number {
  const lo = bytes[at]! | (bytes[at + 1]! << 7) | (bytes[at + 2]! << 14) | (bytes[at + 3]! << 21);
  const hi = bytes[at + 4]! | (bytes[at + 5]! << 7) | (bytes[at + 6]! << 14) | (bytes[at + 7]! << 21);
  return hi * TWO28 + lo;
}

/** The sequence number of the frame at `bytes[at]`. */
export function frameSeq(bytes: Uint8Array, at: number): number {
  return bytes[at + 8]! | (bytes[at + 9]! << 7) | (bytes[at + 10]! << 14) | (bytes[at + 11]! << 21);
}

/** Throws unless the `length` bytes at `bytes[at]` are message `seq` of `size` bytes, byte for byte. */
export function checkFrame(bytes: Uint8Array, at: number, length: number, seq: number, size: number): void {
  if (length !== size) throw new Error(`message ${seq}: ${length} bytes, expected ${size}`);
  const got = frameSeq(bytes, at);
  if (got !== seq) throw new Error(`expected message ${seq}, received ${got} (lost, duplicated or reordered)`);
  const k = seq % PERIOD;
  if (PATTERN.compare(bytes, at + FRAME_HEADER, at + size, k, k + size - FRAME_HEADER) !== 0) {
    throw new Error(`message ${seq}: payload bytes differ from what was sent`);
  }
}

export function checkFrameSize(size: number): void {
  if (!Number.isInteger(size) || size < MIN_FRAME || size > MAX_PATTERN) throw new Error(`payload size ${size} outside ${MIN_FRAME}..${MAX_PATTERN}`);
}

/**
 * Cuts a byte stream (socket, file) into fixed-size frames, handed to `deliver` in place: in the
 * chunk, or in the partial buffer for a frame split between chunks.
 */
export class FrameSplitter {
  private readonly partial: Uint8Array;
  private have = 0;

  constructor(
    private readonly size: number,
    private readonly deliver: (bytes: Uint8Array, at: number, length: number) => void,
  ) {
    this.partial = new Uint8Array(size);
  }

  /** Delivers each complete frame in `chunk[0, end)`; keeps a partial one for the next chunk. */
  push(chunk: Uint8Array, end = chunk.length): void {
    const { size, deliver } = this;
    let o = 0;
    if (this.have > 0) {
      const take = Math.min(size - this.have, end);
      copyBytes(chunk, 0, take, this.partial, this.have);
      this.have += take;
      o = take;
      if (this.have < size) return;
      this.have = 0;
      deliver(this.partial, 0, size);
    }
    for (; o + size <= end; o += size) deliver(chunk, o, size);
    if (o < end) {
      copyBytes(chunk, o, end - o, this.partial, 0);
      this.have = end - o;
    }
  }
}
