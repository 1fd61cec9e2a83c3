/** CRC-32/ISO-HDLC (SPEC section 2): the reference vectors, over a copy and in place. */
import { describe, expect, test } from "bun:test";
import { crc32, crc32Words } from "../../src/queue/crc32.ts";
import { PAYLOAD_OFF } from "../../src/queue/layout/index.ts";

describe("crc32", () => {
  test("CRC-32/ISO-HDLC test vectors", () => {
    const vectors: [Uint8Array, number][] = [
      [new TextEncoder().encode("hello"), 0x3610a686],
      [new Uint8Array(0), 0],
      [new Uint8Array(70).fill(0xab), 0x6b55f30f],
      [new TextEncoder().encode("123456789"), 0xcbf43926],
    ];
    for (const [bytes, crc] of vectors) {
      expect(crc32(bytes)).toBe(crc);
      // In place, as the payload of a record at offset 0 of a segment.
      const padded = new Uint8Array(256);
      padded.set(bytes, PAYLOAD_OFF);
      expect(crc32Words(new Uint32Array(padded.buffer), padded, PAYLOAD_OFF, bytes.length)).toBe(crc);
    }
  });
});
