/**
 * Typed records in memory (no queue): layout, every field type's round trip and boundaries,
 * refusals (typed errors, never truncation), versions, and schema mistakes.
 */
import { describe, expect, test } from "bun:test";
import { InvalidArgument, RecordMismatch, RecordValueError, defineRecord, type RecordSource } from "../../src/index.ts";
import { thrown } from "../helpers/errors.ts";

/** A record as a reader would hand it over: the payload at offset 64 of a larger buffer. */
function source(typeId: number, payload: Uint8Array): RecordSource {
  const buffer = new Uint8Array(64 + payload.length + 64);
  buffer.set(payload, 64);
  return { typeId, length: payload.length, data: new DataView(buffer.buffer), buffer, payloadOffset: 64 };
}

function valueError(fn: () => unknown, field: string, message: RegExp): void {
  const e = thrown(fn);
  expect(e).toBeInstanceOf(RecordValueError);
  expect((e as RecordValueError).field).toBe(field);
  expect((e as RecordValueError).code).toBe("RECORD_VALUE");
  expect((e as Error).message).toMatch(message);
}

const All = defineRecord("All", 9, {
  a8: "i8", b8: "u8", a16: "i16", b16: "u16", a32: "i32", b32: "u32", a64: "i64", b64: "u64", f: "f32", d: "f64", flag: "bool", sym: "ascii:4", text: "utf8:8", xs: "i16[3]",
});
const zeros = { a8: 0, b8: 0, a16: 0, b16: 0, a32: 0, b32: 0, a64: 0n, b64: 0n, f: 0, d: 0, flag: false, sym: "", text: "", xs: [0, 0, 0] };

describe("layout", () => {
  test("fields go in declaration order at the next multiple of their element size, little-endian, with no trailing padding", () => {
    const Order = defineRecord("Order", 7, { price: "f64", qty: "u32", side: "u8", symbol: "ascii:8", id: "u64", px: "f32[2]" });
    expect(Order.fields.map((f) => [f.name, f.offset, f.size])).toEqual([["price", 0, 8], ["qty", 8, 4], ["side", 12, 1], ["symbol", 13, 8], ["id", 24, 8], ["px", 32, 8]]);
    expect(Order.size).toBe(40);
    const bytes = Order.encode({ price: 1, qty: 0x01020304, side: 5, symbol: "AB", id: 0x0a0b0c0d0e0f1011n, px: [0, 0] });
    expect([...bytes.subarray(8, 16)]).toEqual([4, 3, 2, 1, 5, 0x41, 0x42, 0]);
    expect([...bytes.subarray(24, 32)]).toEqual([0x11, 0x10, 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a]);
    expect(new DataView(bytes.buffer).getFloat64(0, true)).toBe(1);
  });

  test("a record that ends on a small field is not padded to its widest one", () => {
    expect(defineRecord("T", 1, { x: "f64", y: "u8" }).size).toBe(9);
  });
});

describe("round trips and boundaries", () => {
  test("integers round-trip at their minimum and maximum", () => {
    const min = { ...zeros, a8: -128, b8: 0, a16: -32768, b16: 0, a32: -(2 ** 31), b32: 0, a64: -(2n ** 63n), b64: 0n };
    const max = { ...zeros, a8: 127, b8: 255, a16: 32767, b16: 65535, a32: 2 ** 31 - 1, b32: 2 ** 32 - 1, a64: 2n ** 63n - 1n, b64: 2n ** 64n - 1n };
    const v = All.view();
    for (const values of [min, max]) expect(v.wrapBytes(All.encode(values)).toObject()).toEqual(values);
  });

  test("integers one past either end, fractions and NaN are refused, naming the field", () => {
    const cases: [keyof typeof zeros, number | bigint][] = [
      ["a8", 128], ["a8", -129], ["b8", 256], ["b8", -1], ["a16", 32768], ["b16", 65536], ["a32", 2 ** 31], ["a32", -(2 ** 31) - 1], ["b32", 2 ** 32], ["b32", -1],
      ["b32", 1.5], ["a16", Number.NaN], ["a64", 2n ** 63n], ["a64", -(2n ** 63n) - 1n], ["b64", 2n ** 64n], ["b64", -1n], ["b64", -1], ["a64", 2 ** 53], ["a64", 0.5],
    ];
    for (const [field, value] of cases) valueError(() => All.encode({ ...zeros, [field]: value }), field, /is not a [iu](8|16|32|64)/);
  });

  test("64-bit integers read as bigint and as hi/lo numbers, and are written from bigints, safe integers or hi/lo", () => {
    const v = All.view().wrapBytes(All.encode({ ...zeros, a64: -2n, b64: 0x123456789abcdef0n }));
    expect([v.a64, v.a64Hi, v.a64Lo]).toEqual([-2n, -1, 0xfffffffe]);
    expect([v.b64Hi, v.b64Lo]).toEqual([0x12345678, 0x9abcdef0]);
    expect(v.wrapBytes(All.encode({ ...zeros, a64: -(2 ** 53) + 1, b64: 2 ** 53 - 1 })).toObject()).toMatchObject({ a64: -(2n ** 53n) + 1n, b64: 2n ** 53n - 1n });
    const bytes = new Uint8Array(All.size);
    const e = All.encoder().wrapBytes(bytes);
    e.b64Hi = 0xffffffff;
    e.b64Lo = 1;
    e.a64Hi = -(2 ** 31);
    expect(v.wrapBytes(bytes).b64).toBe(0xffffffff00000001n);
    expect(v.a64).toBe(-(2n ** 63n));
    valueError(() => (e.a64Hi = 2 ** 31), "a64Hi", /not a i32/);
    valueError(() => (e.b64Lo = -1), "b64Lo", /not a u32/);
  });

  test("floats keep NaN, -0 and infinities; f32 rounds as Math.fround", () => {
    const v = All.view();
    for (const d of [Number.NaN, -0, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE]) expect(Object.is(v.wrapBytes(All.encode({ ...zeros, d, f: d })).d, d)).toBe(true);
    expect(Object.is(v.f, Math.fround(Number.MAX_VALUE))).toBe(true);
    expect(v.wrapBytes(All.encode({ ...zeros, f: 0.1 })).f).toBe(Math.fround(0.1));
    expect(Object.is(v.wrapBytes(All.encode({ ...zeros, f: -0 })).f, -0)).toBe(true);
    valueError(() => All.encode({ ...zeros, d: "1" as unknown as number }), "d", /not a f64/);
  });

  test("bool stores 1 or 0 and reads any non-zero byte as true", () => {
    const bytes = All.encode({ ...zeros, flag: true });
    const flagAt = All.fields.find((f) => f.name === "flag")!.offset;
    expect(bytes[flagAt]).toBe(1);
    bytes[flagAt] = 0x80;
    expect(All.view().wrapBytes(bytes).flag).toBe(true);
    valueError(() => All.encode({ ...zeros, flag: 1 as unknown as boolean }), "flag", /not a bool/);
  });

  test("strings: empty and full length round-trip, padded with NUL bytes", () => {
    const v = All.view();
    expect(v.wrapBytes(All.encode({ ...zeros, sym: "", text: "" })).toObject()).toMatchObject({ sym: "", text: "" });
    const bytes = All.encode({ ...zeros, sym: "ABCD", text: "añ😀x" });
    expect(v.wrapBytes(bytes).toObject()).toMatchObject({ sym: "ABCD", text: "añ😀x" });
    const symAt = All.fields.find((f) => f.name === "sym")!.offset;
    expect([...All.encode({ ...zeros, sym: "AB" }).subarray(symAt, symAt + 4)]).toEqual([0x41, 0x42, 0, 0]);
  });

  test("strings that do not fit are refused, never truncated: too long (in bytes), not ASCII, NUL, lone surrogate", () => {
    valueError(() => All.encode({ ...zeros, sym: "ABCDE" }), "sym", /"ABCDE" is 5 bytes; the field holds 4/);
    valueError(() => All.encode({ ...zeros, sym: "é" }), "sym", /not ASCII/);
    valueError(() => All.encode({ ...zeros, text: "€€€" }), "text", /is 9 bytes; the field holds 8/);
    valueError(() => All.encode({ ...zeros, text: "a\u0000b" }), "text", /NUL/);
    valueError(() => All.encode({ ...zeros, text: "\ud800x" }), "text", /lone surrogate/);
    valueError(() => All.encode({ ...zeros, text: 5 as unknown as string }), "text", /not a string/);
  });

  test("a longer string written over a shorter one leaves no bytes behind", () => {
    const bytes = new Uint8Array(All.size);
    const e = All.encoder().wrapBytes(bytes);
    e.text = "abcdefgh";
    e.text = "xy";
    expect(All.view().wrapBytes(bytes).text).toBe("xy");
  });

  test("equals and copyInto work on the bytes in place, against strings or bytes", () => {
    const v = All.view().wrapBytes(All.encode({ ...zeros, sym: "AB", text: "añ" }));
    expect(v.equals("sym", "AB")).toBe(true);
    expect(v.equals("sym", "A")).toBe(false);
    expect(v.equals("sym", "ABC")).toBe(false);
    expect(v.equals("text", "añ")).toBe(true);
    expect(v.equals("text", new Uint8Array([0x61, 0xc3, 0xb1]))).toBe(true);
    expect(v.equals("text", new Uint8Array([0x61]))).toBe(false);
    const dst = new Uint8Array(10).fill(9);
    expect(v.copyInto("sym", dst, 2)).toBe(2);
    expect([...dst.subarray(0, 6)]).toEqual([9, 9, 0x41, 0x42, 9, 9]);
    expect(thrown(() => v.copyInto("text", new Uint8Array(7)))).toBeInstanceOf(InvalidArgument);
    expect(thrown(() => v.equals("a8" as "sym", "x"))).toBeInstanceOf(InvalidArgument);
  });

  test("arrays: get/set by index, setAll with the exact length, element range checks, index checks", () => {
    const bytes = new Uint8Array(All.size);
    const e = All.encoder().wrapBytes(bytes);
    e.xs.setAll([1, -2, 32767]);
    e.xs.set(0, -32768);
    const v = All.view().wrapBytes(bytes);
    expect(v.xs.length).toBe(3);
    expect([v.xs.get(0), v.xs.get(1), v.xs.get(2)]).toEqual([-32768, -2, 32767]);
    expect(v.xs.toArray()).toEqual([-32768, -2, 32767]);
    expect(thrown(() => v.xs.get(3))).toBeInstanceOf(InvalidArgument);
    expect(thrown(() => v.xs.get(-1))).toBeInstanceOf(InvalidArgument);
    valueError(() => e.xs.set(1, 40000), "xs[1]", /not a i16/);
    valueError(() => e.xs.setAll([1, 2]), "xs", /array of 3 i16/);
    valueError(() => All.encode({ ...zeros, xs: [1, 2, 3, 4] }), "xs", /array of 3 i16/);
  });

  test("toJSON writes 64-bit integers as decimal strings", () => {
    const v = All.view().wrapBytes(All.encode({ ...zeros, b64: 2n ** 64n - 1n }));
    expect(JSON.parse(JSON.stringify(v))).toMatchObject({ b64: "18446744073709551615", xs: [0, 0, 0] });
  });
});

describe("type ids, lengths and versions", () => {
  const V1 = defineRecord("Quote", 5, { px: "f64", qty: "u32" });
  const V2 = defineRecord("Quote", 5, {
    px: "f64", qty: "u32",
    venue: { type: "ascii:4", since: 2, default: "XNAS" }, id: { type: "u64", since: 2, default: 7n }, flag: { type: "bool", since: 2, default: true },
    w: { type: "f32[2]", since: 3, default: 0.5 }, lot: { type: "u16", since: 3, default: 100 },
  });

  test("each version's length is the end of its last field; the newest is the schema's version", () => {
    expect(V2.sizes).toEqual([12, 25, 38]);
    expect(V2.version).toBe(3);
    expect(V1.version).toBe(1);
  });

  test("wrap is false for another type id and true for this one", () => {
    const v = V1.view();
    const bytes = V1.encode({ px: 1.5, qty: 2 });
    expect(v.wrap(source(6, bytes))).toBe(false);
    expect(v.wrap(source(5, bytes))).toBe(true);
    expect([v.px, v.qty, v.version]).toEqual([1.5, 2, 1]);
  });

  test("an older record reads appended fields as their defaults", () => {
    const v = V2.view();
    expect(v.wrap(source(5, V1.encode({ px: 1.5, qty: 2 })))).toBe(true);
    expect(v.version).toBe(1);
    expect(v.toObject()).toEqual({ px: 1.5, qty: 2, venue: "XNAS", id: 7n, flag: true, w: [0.5, 0.5], lot: 100 });
    expect([v.idHi, v.idLo]).toEqual([0, 7]);
    expect(v.equals("venue", "XNAS")).toBe(true);
    const dst = new Uint8Array(4);
    expect(v.copyInto("venue", dst)).toBe(4);
    expect(new TextDecoder().decode(dst)).toBe("XNAS");
    expect(v.w.get(1)).toBe(0.5);
  });

  test("a record of a middle version reads its own fields and defaults for the later ones", () => {
    const mid = V2.encode({ px: 1, qty: 2, venue: "ARCX", id: 9n, flag: false, w: [1, 2], lot: 5 }).subarray(0, 25);
    const v = V2.view();
    expect(v.wrap(source(5, mid))).toBe(true);
    expect(v.version).toBe(2);
    expect(v.toObject()).toMatchObject({ venue: "ARCX", id: 9n, flag: false, w: [0.5, 0.5], lot: 100 });
  });

  test("a newer record is read by an older schema, its extra bytes ignored", () => {
    const v = V1.view();
    expect(v.wrap(source(5, V2.encode({ px: 3, qty: 4, venue: "", id: 0n, flag: false, w: [0, 0], lot: 0 })))).toBe(true);
    expect([v.px, v.qty, v.version]).toEqual([3, 4, 1]);
  });

  test("the right type id with a length no version has is a RecordMismatch listing the version lengths", () => {
    const v = V2.view();
    for (const length of [0, 11, 13, 24, 37]) {
      const e = thrown(() => v.wrap(source(5, new Uint8Array(length))));
      expect(e).toBeInstanceOf(RecordMismatch);
      expect(e).toMatchObject({ code: "RECORD_MISMATCH", record: "Quote", typeId: 5, length, expected: [12, 25, 38] });
    }
    expect(thrown(() => v.wrapBytes(new Uint8Array(3)))).toBeInstanceOf(RecordMismatch);
  });
});

describe("schema mistakes are InvalidArgument at definition", () => {
  const bad: [string, () => unknown][] = [
    ["unknown type", () => defineRecord("T", 1, { x: "u128" as "u8" })],
    ["zero-length string", () => defineRecord("T", 1, { x: "ascii:0" })],
    ["zero-length array", () => defineRecord("T", 1, { x: "f64[0]" })],
    ["array of 64-bit integers", () => defineRecord("T", 1, { x: "u64[2]" as "u32[2]" })],
    ["field named like a view member", () => defineRecord("T", 1, { wrap: "u8" })],
    ["field name with $", () => defineRecord("T", 1, { $d: "u8" })],
    ["field name from Object.prototype", () => defineRecord("T", 1, { toString: "u8" })],
    ["hi/lo accessor clash", () => defineRecord("T", 1, { x: "u64", xHi: "u32" })],
    ["no fields", () => defineRecord("T", 1, {})],
    ["version skipped", () => defineRecord("T", 1, { x: "u8", y: { type: "u8", since: 3 } })],
    ["version going back", () => defineRecord("T", 1, { x: "u8", y: { type: "u8", since: 2 }, z: "u8" })],
    ["first field not in version 1", () => defineRecord("T", 1, { x: { type: "u8", since: 2 } })],
    ["default on a version-1 field", () => defineRecord("T", 1, { x: { type: "u8", default: 1 } })],
    ["default out of range", () => defineRecord("T", 1, { x: "u8", y: { type: "u8", since: 2, default: 300 } })],
    ["default too long", () => defineRecord("T", 1, { x: "u8", y: { type: "ascii:2", since: 2, default: "abc" } })],
    ["default of the wrong type", () => defineRecord("T", 1, { x: "u8", y: { type: "u64", since: 2, default: 1 } })],
    ["reserved type id", () => defineRecord("T", 0xffff, { x: "u8" })],
    ["name that is not an identifier", () => defineRecord("a b", 1, { x: "u8" })],
  ];
  for (const [what, fn] of bad) test(what, () => expect(thrown(fn)).toBeInstanceOf(InvalidArgument));

  test("an encoder cannot wrap a reader's read-only message, and commit needs a claim", () => {
    const T = defineRecord("T", 1, { x: "u8" });
    const e = T.encoder() as unknown as { wrap(m: RecordSource): boolean; commit(): number };
    expect(thrown(() => e.wrap(source(1, new Uint8Array(1))))).toBeInstanceOf(InvalidArgument);
    expect(thrown(() => e.commit())).toBeInstanceOf(InvalidArgument);
  });
});

describe("misuse from JavaScript callers", () => {
  const R = defineRecord("Misuse", 11, { a: "u32" });
  test("wrap of something that is not a message (a fan-in message, a number, null) is InvalidArgument, not false", () => {
    const v = R.view();
    for (const m of [5, null, undefined, { message: {}, sourceId: 0 }]) expect(() => v.wrap(m as never)).toThrow(InvalidArgument);
  });
  test("claim and append without a QueueWriter are InvalidArgument", () => {
    for (const w of [5, null, {}]) {
      expect(() => R.encoder().claim(w as never)).toThrow(InvalidArgument);
      expect(() => R.append(w as never, { a: 1 })).toThrow(InvalidArgument);
    }
  });
});
