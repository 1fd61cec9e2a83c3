/**
 * The flyweights of a schema: a read-only view and an encoder, generated once per schema as
 * classes whose accessors have the field offsets as constants (`new Function`), so reading
 * `o.price` is one DataView load, as hand-written code would do. Field names were checked as
 * identifiers by the layout before they reach the generated source.
 *
 * Internal state is kept in `$`-prefixed members (field names cannot start with `$`): `$d`/`$u`
 * the DataView / bytes holding the record, `$o` the payload offset in them, `$n` the payload
 * length, `$v` the version the record was written by.
 */
import { InvalidArgument, RecordMismatch, RecordValueError } from "../errors.ts";
import { QueueWriter } from "../queue/writer.ts";
import { versionOf, type FieldLayout, type RecordLayout, type ScalarType } from "./layout.ts";
import { HAS_NUL, LONE_SURROGATE, NOT_ASCII, copyText, encodeText, measureText, readText, textEquals } from "./text.ts";

/** What a view reads a record from: a reader's MessageView (or a fan-in's `message`). */
export interface RecordSource {
  readonly typeId: number;
  /** Payload length in bytes. */
  readonly length: number;
  readonly data: DataView;
  readonly buffer: Uint8Array;
  readonly payloadOffset: number;
}

/** The schema facts every flyweight of it needs. */
export interface SchemaInfo extends RecordLayout {
  readonly name: string;
  readonly typeId: number;
  readonly byName: ReadonlyMap<string, FieldLayout>;
  /** Encoded defaults of string fields, for equals/copyInto on older records. */
  readonly defaultBytes: ReadonlyMap<string, Uint8Array>;
}

const EMPTY = new Uint8Array(0);
const EMPTY_DATA = new DataView(EMPTY.buffer);
const TWO32 = 2 ** 32;

/** Members shared by views and encoders (the generated classes add the field accessors). */
export class FlyweightBase {
  $t: SchemaInfo;
  $d: DataView = EMPTY_DATA;
  $u: Uint8Array = EMPTY;
  $o = 0;
  $n = 0;
  $v = 0;
  /** The last Uint8Array given to wrapBytes and its DataView (re-wrapping it allocates nothing). */
  $src: Uint8Array | null = null;
  $srcData: DataView = EMPTY_DATA;

  constructor(info: SchemaInfo) {
    this.$t = info;
  }

  /** The version of the schema the wrapped record was written by (0 before the first wrap). */
  get version(): number {
    return this.$v;
  }

  /** Points the flyweight at a payload held in plain bytes (e.g. a copy); refuses an impossible length. */
  wrapBytes(bytes: Uint8Array): this {
    if (!(bytes instanceof Uint8Array)) throw new InvalidArgument("", `${this.$t.name}: wrapBytes takes a Uint8Array`);
    this.$v = this.$version(bytes.length);
    this.$bytes(bytes, 0, bytes.length);
    return this;
  }

  /** Whether string field `field` holds exactly `value` (a string or its bytes); no allocation. */
  equals(field: string, value: string | Uint8Array): boolean {
    const f = this.$stringField(field);
    if (this.$n < f.offset + f.size) return textEquals(this.$t.defaultBytes.get(field)!, 0, f.count, value);
    return textEquals(this.$u, this.$o + f.offset, f.count, value);
  }

  /** Copies the bytes of string field `field` (without padding) into `dst` at `offset`; returns the count. */
  copyInto(field: string, dst: Uint8Array, offset = 0): number {
    const f = this.$stringField(field);
    if (!(dst instanceof Uint8Array) || !Number.isInteger(offset) || offset < 0 || offset + f.count > dst.length) {
      throw new InvalidArgument("", `${this.$t.name}.${field}: copyInto needs a Uint8Array with ${f.count} bytes of room from offset ${offset}`);
    }
    if (this.$n < f.offset + f.size) return copyText(this.$t.defaultBytes.get(field)!, 0, f.count, dst, offset);
    return copyText(this.$u, this.$o + f.offset, f.count, dst, offset);
  }

  /** The fields as a plain object (allocates: for tests, logs and copies). */
  toObject(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const self = this as unknown as Record<string, unknown>;
    for (const f of this.$t.fields) out[f.name] = f.kind === "array" ? (self[f.name] as ArrayBase).toArray() : self[f.name];
    return out;
  }

  /** The fields for JSON.stringify: 64-bit integers as decimal strings. */
  toJSON(): Record<string, unknown> {
    const out = this.toObject();
    for (const k in out) if (typeof out[k] === "bigint") out[k] = String(out[k]);
    return out;
  }

  [Bun.inspect.custom](): string {
    return this.$v === 0 ? `${this.$t.name} (not wrapped)` : `${this.$t.name} v${this.$v} ${Bun.inspect(this.toObject())}`;
  }

  /** The version of a payload of `length` bytes; RecordMismatch when none has it. */
  $version(length: number): number {
    const v = versionOf(this.$t.sizes, length);
    if (v === 0) throw new RecordMismatch(this.$t.name, this.$t.typeId, length, this.$t.sizes);
    return v;
  }

  /** Points the flyweight at `length` bytes of `bytes` from `offset`. */
  $bytes(bytes: Uint8Array, offset: number, length: number): void {
    if (bytes !== this.$src) {
      this.$src = bytes;
      this.$srcData = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.$d = this.$srcData;
    this.$u = bytes;
    this.$o = offset;
    this.$n = length;
  }

  /** The layout of string field `field` (absent from an older record: its default's bytes stand in). */
  private $stringField(field: string): FieldLayout {
    const f = this.$t.byName.get(field);
    if (f === undefined || (f.kind !== "ascii" && f.kind !== "utf8")) throw new InvalidArgument("", `${this.$t.name}: ${field} is not a string field`);
    return f;
  }

  /** Throws the RecordValueError for a value that does not fit `field`. */
  $bad(field: string, value: unknown, type: string): never {
    const shown = typeof value === "string" ? JSON.stringify(value) : typeof value === "bigint" ? `${value}n` : String(value);
    throw new RecordValueError(this.$t.name, field, `${shown} is not a ${type}`);
  }
}

/** The reused accessor of an array field: `length`, `get(i)` (and `set(i, x)` on an encoder). */
export class ArrayBase {
  readonly length: number;
  readonly $f: FlyweightBase;
  readonly $name: string;

  constructor(owner: FlyweightBase, name: string, length: number) {
    this.$f = owner;
    this.$name = name;
    this.length = length;
  }

  /** The elements as a new array (allocates). */
  toArray(): number[] {
    const self = this as unknown as { get(i: number): number };
    const out = new Array<number>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = self.get(i);
    return out;
  }

  /** Throws the InvalidArgument for an index out of range. */
  $index(i: number): never {
    throw new InvalidArgument("", `${this.$f.$t.name}.${this.$name}: index ${i} is out of range [0, ${this.length})`);
  }
}

/** The generated classes of one schema. */
export interface Flyweights {
  View: new () => FlyweightBase;
  Encoder: new () => FlyweightBase & EncoderMembers;
}

/** What the generated encoder adds (typed publicly in types.ts). */
export interface EncoderMembers {
  claim(writer: QueueWriter): unknown;
  commit(timestampNs?: bigint): number;
  abort(): void;
  $fill(values: Record<string, unknown>): void;
}

const DATAVIEW: Readonly<Record<ScalarType, string>> = {
  i8: "Int8", u8: "Uint8", bool: "Uint8", i16: "Int16", u16: "Uint16", i32: "Int32", u32: "Uint32", f32: "Float32", f64: "Float64", i64: "BigInt64", u64: "BigUint64",
};

/** The check a value `x` of element type `t` must pass to be stored (true means refuse). */
function refuses(t: ScalarType, x: string): string {
  switch (t) {
    case "i8": return `((${x} << 24) >> 24) !== ${x}`;
    case "u8": return `(${x} & 0xff) !== ${x}`;
    case "i16": return `((${x} << 16) >> 16) !== ${x}`;
    case "u16": return `(${x} & 0xffff) !== ${x}`;
    case "i32": return `(${x} | 0) !== ${x}`;
    case "u32": return `(${x} >>> 0) !== ${x}`;
    case "bool": return `typeof ${x} !== "boolean"`;
    default: return `typeof ${x} !== "number"`;
  }
}

function le(t: ScalarType): string {
  return t === "i8" || t === "u8" || t === "bool" ? "" : ", true";
}

/** Builds the view and encoder classes of a laid-out schema. */
export function generateFlyweights(info: SchemaInfo): Flyweights {
  const defaults: unknown[] = [];
  const hi: number[] = [];
  const lo: number[] = [];
  const arrays: string[] = [];
  const getters: string[] = [];
  const setters: string[] = [];
  const fills: string[] = [];
  const arrayInits: string[] = [];
  const writerArrayInits: string[] = [];
  info.fields.forEach((f, k) => {
    const at = (extra: number): string => `this.$o + ${f.offset + extra}`;
    const present = (expr: string, fallback: string): string => (f.since > 1 ? `(this.$n >= ${f.offset + f.size} ? ${expr} : ${fallback})` : expr);
    const name = f.name;
    defaults[k] = f.default;
    if (f.kind === "array") {
      const t = f.element;
      const size = f.size / f.count;
      const elem = `v.$o + ${f.offset} + i * ${size}`;
      const read = `v.$d.get${DATAVIEW[t]}(${elem}${le(t)})`;
      const guard = `if (!((i >>> 0) === i && i < ${f.count})) this.$index(i);`;
      arrays.push(
        `class A${k} extends ArrayBase {
          get(i) { ${guard} const v = this.$f; return ${f.since > 1 ? `v.$n >= ${f.offset + f.size} ? ${read} : D[${k}]` : read}; }
        }
        class W${k} extends A${k} {
          set(i, x) { ${guard} if (${refuses(t, "x")}) this.$f.$bad("${name}[" + i + "]", x, "${t}"); const v = this.$f; v.$d.set${DATAVIEW[t]}(${elem}, x${le(t)}); }
          setAll(xs) { if (xs === null || typeof xs !== "object" || xs.length !== ${f.count}) this.$f.$bad("${name}", xs, "array of ${f.count} ${t}"); for (let i = 0; i < ${f.count}; i++) this.set(i, xs[i]); }
        }`,
      );
      arrayInits.push(`this.$a${k} = new A${k}(this, "${name}", ${f.count});`);
      writerArrayInits.push(`this.$a${k} = new W${k}(this, "${name}", ${f.count});`);
      getters.push(`get ${name}() { return this.$a${k}; }`);
      fills.push(`this.$a${k}.setAll(x.${name});`);
      return;
    }
    fills.push(`this.${name} = x.${name};`);
    if (f.kind === "ascii" || f.kind === "utf8") {
      const get = `get ${name}() { return ${present(`readText(this.$u, ${at(0)}, ${f.count})`, `D[${k}]`)}; }`;
      getters.push(get);
      setters.push(get, `set ${name}(x) { writeString(this, ${f.offset}, ${f.count}, ${f.kind === "ascii"}, "${name}", x); }`);
      return;
    }
    const t = f.kind;
    const read = t === "bool" ? `this.$d.getUint8(${at(0)}) !== 0` : `this.$d.get${DATAVIEW[t]}(${at(0)}${le(t)})`;
    const get = `get ${name}() { return ${present(read, `D[${k}]`)}; }`;
    getters.push(get);
    if (t === "i64" || t === "u64") {
      const d = f.default as bigint;
      const signed = t === "i64";
      hi[k] = Number(signed ? BigInt.asIntN(32, d >> 32n) : BigInt.asUintN(32, d >> 32n));
      lo[k] = Number(BigInt.asUintN(32, d));
      const hiType = signed ? "i32" : "u32";
      const getHi = `get ${name}Hi() { return ${present(`this.$d.get${signed ? "Int32" : "Uint32"}(${at(4)}, true)`, `DH[${k}]`)}; }`;
      const getLo = `get ${name}Lo() { return ${present(`this.$d.getUint32(${at(0)}, true)`, `DL[${k}]`)}; }`;
      getters.push(getHi, getLo);
      setters.push(
        get,
        `set ${name}(x) { set64(this, ${f.offset}, x, ${signed}, "${name}"); }`,
        getHi,
        `set ${name}Hi(x) { if (${refuses(hiType, "x")}) this.$bad("${name}Hi", x, "${hiType}"); this.$d.set${DATAVIEW[hiType]}(${at(4)}, x, true); }`,
        getLo,
        `set ${name}Lo(x) { if (${refuses("u32", "x")}) this.$bad("${name}Lo", x, "u32"); this.$d.setUint32(${at(0)}, x, true); }`,
      );
      return;
    }
    const stored = t === "bool" ? "x ? 1 : 0" : "x";
    setters.push(get, `set ${name}(x) { if (${refuses(t, "x")}) this.$bad("${name}", x, "${t}"); this.$d.set${DATAVIEW[t]}(${at(0)}, ${stored}${le(t)}); }`);
  });
  const newest = info.sizes.length;
  const size = info.sizes[newest - 1];
  const source = `
    "use strict";
    ${arrays.join("\n")}
    class View extends FlyweightBase {
      constructor() { super(T); ${arrayInits.join(" ")} }
      wrap(m) {
        if (m?.typeId !== ${info.typeId}) {
          // Checked off the matching path: a fan-in message or anything else would read as "another type".
          if (typeof m?.typeId !== "number") throw new InvalidArgument("", ${JSON.stringify(`${info.name}: wrap takes a MessageView (of a fan-in message: its .message)`)});
          return false;
        }
        const n = m.length;
        this.$v = n >= ${size} ? ${newest} : this.$version(n);
        this.$d = m.data; this.$u = m.buffer; this.$o = m.payloadOffset; this.$n = n;
        return true;
      }
      ${getters.join("\n")}
    }
    class Encoder extends View {
      constructor() { super(); this.$w = null; ${writerArrayInits.join(" ")} }
      wrap() { throw new InvalidArgument("", ${JSON.stringify(`${info.name}: an encoder writes records; read them with view()`)}); }
      wrapBytes(bytes, offset = 0) {
        if (!(bytes instanceof Uint8Array) || !Number.isInteger(offset) || offset < 0 || offset + ${size} > bytes.length) {
          throw new InvalidArgument("", ${JSON.stringify(`${info.name}: wrapBytes needs a Uint8Array with ${size} bytes of room from the offset`)});
        }
        this.$bytes(bytes, offset, ${size}); this.$v = ${newest}; this.$w = null;
        return this;
      }
      claim(w) {
        if (!(w instanceof QueueWriter)) throw new InvalidArgument("", ${JSON.stringify(`${info.name}: claim takes a QueueWriter`)});
        const at = w.claimAt(${info.typeId}, ${size});
        this.$d = w.claimData; this.$u = w.claimBuffer; this.$o = at; this.$n = ${size}; this.$v = ${newest}; this.$w = w;
        return this;
      }
      commit(ts) {
        const w = this.$w;
        if (w === null) throw new InvalidArgument("", ${JSON.stringify(`${info.name}: commit() without a claim()`)});
        const seq = w.commitClaim(ts);
        // Stores after this would land in a published record: make them throw instead.
        this.$w = null; this.$d = EMPTY_DATA; this.$u = EMPTY;
        return seq;
      }
      abort() {
        const w = this.$w;
        if (w === null) return;
        this.$w = null; this.$d = EMPTY_DATA; this.$u = EMPTY;
        w.abortClaim();
      }
      $fill(x) { ${fills.join(" ")} }
      ${setters.join("\n")}
    }
    return { View, Encoder };`;
  const helpers = { FlyweightBase, ArrayBase, InvalidArgument, QueueWriter, readText, writeString, set64, EMPTY, EMPTY_DATA, T: info, D: defaults, DH: hi, DL: lo };
  const names = Object.keys(helpers);
  return new Function(...names, source)(...names.map((n) => helpers[n as keyof typeof helpers])) as Flyweights;
}

/** Stores string `x` in a field of `n` bytes at `offset`, NUL-padded; refuses rather than truncates. */
function writeString(e: FlyweightBase, offset: number, n: number, ascii: boolean, field: string, x: unknown): void {
  if (typeof x !== "string") e.$bad(field, x, "string");
  const len = measureText(x, ascii);
  if (len === NOT_ASCII) throw new RecordValueError(e.$t.name, field, `${JSON.stringify(x)} is not ASCII`);
  if (len === HAS_NUL) throw new RecordValueError(e.$t.name, field, `${JSON.stringify(x)} holds a NUL character, which would end it early on reading`);
  if (len === LONE_SURROGATE) throw new RecordValueError(e.$t.name, field, `${JSON.stringify(x)} holds a lone surrogate (not Unicode text)`);
  if (len > n) throw new RecordValueError(e.$t.name, field, `${JSON.stringify(x)} is ${len} bytes; the field holds ${n}`);
  const at = e.$o + offset;
  // Typed arrays drop stores out of bounds: an encoder pointed at nothing must throw, as DataView stores do.
  if (at + n > e.$u.length) throw new InvalidArgument("", `${e.$t.name}: the encoder holds no record (claim() or wrapBytes() first)`);
  e.$u.fill(0, encodeText(x, e.$u, at), at + n);
}

/** Stores a 64-bit integer from a bigint, or from a safe-integer number without allocating a BigInt. */
function set64(e: FlyweightBase, offset: number, x: unknown, signed: boolean, field: string): void {
  const at = e.$o + offset;
  if (typeof x === "bigint") {
    if ((signed ? BigInt.asIntN(64, x) : BigInt.asUintN(64, x)) !== x) e.$bad(field, x, signed ? "i64" : "u64");
    if (signed) e.$d.setBigInt64(at, x, true);
    else e.$d.setBigUint64(at, x, true);
  } else if (typeof x === "number" && Number.isSafeInteger(x) && (signed || x >= 0)) {
    const high = Math.floor(x / TWO32);
    e.$d.setUint32(at, x - high * TWO32, true);
    e.$d.setInt32(at + 4, high, true);
  } else {
    e.$bad(field, x, signed ? "i64 (a bigint, or a safe integer)" : "u64 (a bigint, or a non-negative safe integer)");
  }
}
