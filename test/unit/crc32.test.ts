/** CRC-32/ISO-HDLC (FORMAT.md, Record): the reference vectors, over a copy and in place. */
import { describe, expect, test } from "bun:test";
import { IN_PLACE_CRC_MAX, crc32, crc32Words } from "../../src/queue/crc32.ts";
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

  test("in place equals the native CRC for every length up to 1 KiB and beyond the in-place limit, at 4-byte-aligned offsets", () => {
    const bytes = new Uint8Array(4096);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
    const u32 = new Uint32Array(bytes.buffer);
    for (let length = 0; length <= 1030; length++) {
      for (const offset of [0, 4, 64, 132]) {
        expect(crc32Words(u32, bytes, offset, length)).toBe(crc32(bytes.subarray(offset, offset + length)));
      }
    }
    expect(IN_PLACE_CRC_MAX).toBeLessThan(1030);
  });
});
