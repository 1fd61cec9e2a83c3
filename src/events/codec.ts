/** Pluggable encoding of event data and metadata; the default is JSON. */

/** Turns event data (and metadata) into bytes and back. `encode` throws on a value it cannot encode. */
export interface EventCodec {
  /** A name for error messages and diagnostics. */
  readonly name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
  /**
   * Optional: decodes bytes [start, end) of `buffer` in place. The store reads events out of
   * mapped segments; with this it needs no view (an allocation) per event.
   */
  decodeAt?(buffer: Buffer, start: number, end: number): unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** JSON as UTF-8. Values JSON cannot represent (undefined, functions, symbols, BigInt, cycles) throw. */
export const jsonCodec: EventCodec = {
  name: "json",
  encode(value: unknown): Uint8Array {
    const text = JSON.stringify(value);
    // JSON.stringify returns undefined (no exception) for undefined, functions and symbols.
    if (typeof text !== "string") throw new TypeError(`JSON cannot represent a value of type ${typeof value}`);
    return encoder.encode(text);
  },
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(decoder.decode(bytes));
  },
  decodeAt(buffer: Buffer, start: number, end: number): unknown {
    return JSON.parse(buffer.toString("utf8", start, end));
  },
};
