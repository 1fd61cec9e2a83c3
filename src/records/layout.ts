/**
 * The record layout descriptor: field type names, their sizes and alignment, and the offset of
 * every field of a schema. The only place in src/records/ where an offset is computed.
 *
 * Rules (docs/RECORDS.md): fields in declaration order, each at the next multiple of its element
 * size (natural alignment, as a C struct; strings align to 1), little-endian, no trailing padding.
 * The payload length of version v is the end of its last field, so the length identifies the version.
 */
import { InvalidArgument } from "../errors.ts";

/** Integers of 8 to 32 bits (read as a JS number). */
export type IntType = "i8" | "u8" | "i16" | "u16" | "i32" | "u32";
/** IEEE 754 floats. */
export type FloatType = "f32" | "f64";
/** Element types of arrays: the types read as a JS number. */
export type NumberType = IntType | FloatType;
/** 64-bit integers (read as a bigint, and as hi/lo numbers). */
export type BigIntType = "i64" | "u64";
/** Every single-value field type. */
export type ScalarType = NumberType | BigIntType | "bool";
/** Fixed-length strings: N bytes, NUL-padded. */
export type StringType = `ascii:${number}` | `utf8:${number}`;
/** Fixed-length arrays of numbers, e.g. "f64[4]". */
export type ArrayType = `${NumberType}[${number}]`;
/** Every field type name a schema accepts. */
export type FieldType = ScalarType | StringType | ArrayType;

/** A field added by a later version of a schema, and what it reads as in older records. */
export interface FieldOptions {
  readonly type: FieldType;
  /** Schema version that added the field (default 1); later versions only append fields. */
  readonly since?: number | undefined;
  /** Value read from records of older versions (default zero, false or ""); arrays: every element. */
  readonly default?: number | bigint | boolean | string | undefined;
}

/** A field: a type name, or options for a field added in a later version. */
export type FieldSpec = FieldType | FieldOptions;

/** The fields of a schema, in layout order. */
export type RecordFields = { readonly [name: string]: FieldSpec };

/** How a field is stored. */
export type FieldKind = ScalarType | "ascii" | "utf8" | "array";

/** One field as laid out. */
export interface FieldLayout {
  readonly name: string;
  /** The type name as declared. */
  readonly type: FieldType;
  readonly kind: FieldKind;
  /** Element type of an array; the scalar type itself otherwise (strings: "u8"). */
  readonly element: ScalarType;
  /** Elements of an array, bytes of a string, 1 for a scalar. */
  readonly count: number;
  /** Byte offset in the payload. */
  readonly offset: number;
  /** Bytes the field occupies. */
  readonly size: number;
  readonly since: number;
  /** What older records read as (already checked against the type). */
  readonly default: number | bigint | boolean | string;
}

/** The laid-out schema: fields and the payload length of each version. */
export interface RecordLayout {
  readonly fields: readonly FieldLayout[];
  /** Payload length of version v at index v - 1. */
  readonly sizes: readonly number[];
}

/** The longest string or array a field may declare. */
export const MAX_FIELD_COUNT = 65536;

const ELEMENT_SIZE: Readonly<Record<ScalarType, number>> = {
  i8: 1, u8: 1, bool: 1, i16: 2, u16: 2, i32: 4, u32: 4, f32: 4, i64: 8, u64: 8, f64: 8,
};

const STRING_RE = /^(ascii|utf8):(\d+)$/;
const ARRAY_RE = /^(i8|u8|i16|u16|i32|u32|f32|f64)\[(\d+)\]$/;
/** Field names become accessor names: identifiers, no `$` (internal state) and no leading `_`. */
const NAME_RE = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Members of views and encoders a field may not shadow. */
const RESERVED = new Set(["wrap", "wrapBytes", "version", "schema", "equals", "copyInto", "toObject", "toJSON", "claim", "commit", "abort", "constructor", "length", "prototype"]);

/** Lays out `fields` of schema `record`; every mistake is an InvalidArgument naming the field. */
export function layOut(record: string, fields: RecordFields): RecordLayout {
  if (typeof fields !== "object" || fields === null) throw new InvalidArgument("", `${record}: fields must be an object of name: type`);
  const out: FieldLayout[] = [];
  const sizes: number[] = [];
  const names = new Set<string>();
  let cursor = 0;
  let version = 1;
  for (const [name, spec] of Object.entries(fields)) {
    const bad = (why: string): InvalidArgument => new InvalidArgument("", `${record}.${name}: ${why}`);
    if (!NAME_RE.test(name) || RESERVED.has(name) || name in Object.prototype) throw bad("field names are identifiers (a letter, then letters, digits, _) and not a member of views");
    const options: FieldOptions = typeof spec === "string" ? { type: spec } : spec;
    if (typeof options !== "object" || options === null || typeof options.type !== "string") throw bad("a field is a type name or { type, since?, default? }");
    const since = options.since ?? 1;
    if (!Number.isInteger(since) || since < version || since > version + 1 || (out.length === 0 && since !== 1)) {
      throw bad(`since must be ${version} or ${version + 1}: versions start at 1, only append fields, and each adds at least one`);
    }
    if (since > version) {
      sizes.push(cursor);
      version = since;
    }
    const shape = parseType(options.type, bad);
    const offset = alignUp(cursor, shape.align);
    const size = ELEMENT_SIZE[shape.element] * shape.count;
    cursor = offset + size;
    if (options.default !== undefined && since === 1) throw bad("a default applies to fields added by a later version (since > 1)");
    const field: FieldLayout = { name, type: options.type, kind: shape.kind, element: shape.element, count: shape.count, offset, size, since, default: options.default ?? zeroOf(shape.kind) };
    checkDefault(field, bad);
    for (const accessor of accessorNames(field)) {
      if (names.has(accessor)) throw bad(`${accessor} is already a field or accessor of ${record}`);
      names.add(accessor);
    }
    out.push(field);
  }
  if (out.length === 0) throw new InvalidArgument("", `${record}: a record needs at least one field`);
  sizes.push(cursor);
  return { fields: out, sizes };
}

/** The accessors a field gets: its name, and for 64-bit integers `<name>Hi` / `<name>Lo`. */
export function accessorNames(f: { name: string; kind: FieldKind }): string[] {
  return f.kind === "i64" || f.kind === "u64" ? [f.name, `${f.name}Hi`, `${f.name}Lo`] : [f.name];
}

/** The version a payload of `length` bytes was written by: 0 when no version has that length. */
export function versionOf(sizes: readonly number[], length: number): number {
  const newest = sizes.length;
  if (length >= sizes[newest - 1]!) return newest;
  for (let v = newest - 1; v >= 1; v--) if (sizes[v - 1] === length) return v;
  return 0;
}

function alignUp(x: number, align: number): number {
  return Math.ceil(x / align) * align;
}

function parseType(type: string, bad: (why: string) => Error): { kind: FieldKind; element: ScalarType; count: number; align: number } {
  if (type in ELEMENT_SIZE) {
    const t = type as ScalarType;
    return { kind: t, element: t, count: 1, align: ELEMENT_SIZE[t] };
  }
  const str = STRING_RE.exec(type);
  const arr = str === null ? ARRAY_RE.exec(type) : null;
  const count = Number((str ?? arr)?.[2]);
  if ((str === null && arr === null) || !(count >= 1 && count <= MAX_FIELD_COUNT)) {
    throw bad(`unknown type ${JSON.stringify(type)}: use i8..u64, f32, f64, bool, ascii:N, utf8:N or e.g. f64[4] (1 <= N <= ${MAX_FIELD_COUNT})`);
  }
  if (str !== null) return { kind: str[1] as "ascii" | "utf8", element: "u8", count, align: 1 };
  const element = arr![1] as NumberType;
  return { kind: "array", element, count, align: ELEMENT_SIZE[element] };
}

function zeroOf(kind: FieldKind): number | bigint | boolean | string {
  if (kind === "i64" || kind === "u64") return 0n;
  if (kind === "bool") return false;
  return kind === "ascii" || kind === "utf8" ? "" : 0;
}

/** The default's JS type (its range is checked by encoding it, see defineRecord). */
function checkDefault(f: FieldLayout, bad: (why: string) => Error): void {
  const want = typeof zeroOf(f.kind);
  if (typeof f.default !== want) throw bad(`default must be a ${want}, got ${typeof f.default}`);
}
