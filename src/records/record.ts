/** `defineRecord`: a schema for fixed-layout records, with its views, encoders and one-call append. */
import { InvalidArgument, RecordValueError } from "../errors.ts";
import { MAX_TYPE_ID } from "../queue/layout/index.ts";
import type { QueueWriter } from "../queue/writer.ts";
import { generateFlyweights, type EncoderMembers, type FlyweightBase, type Flyweights, type SchemaInfo } from "./flyweight.ts";
import { layOut, type FieldLayout, type RecordFields } from "./layout.ts";
import type { RecordEncoder, RecordValues, RecordView } from "./types.ts";

/** Marks schemas across copies of the library (the CLI loads user modules that import their own). */
const BRAND = Symbol.for("chronicle.RecordType");
const NAME_RE = /^[A-Za-z][A-Za-z0-9_.]*$/;

/**
 * A record schema: a type id, fields at fixed offsets, and a version (the highest `since`).
 * Made by {@link defineRecord}; layout rules and versioning in docs/RECORDS.md.
 */
export class RecordType<F extends RecordFields> {
  readonly [BRAND] = true;
  readonly name: string;
  /** The record type id it is written with and recognised by. */
  readonly typeId: number;
  /** The newest version: the one this schema writes. */
  readonly version: number;
  /** Payload bytes of the newest version. */
  readonly size: number;
  /** Payload bytes of each version, oldest first (the length of a record identifies its version). */
  readonly sizes: readonly number[];
  /** The fields as laid out (offsets, sizes, versions). */
  readonly fields: readonly FieldLayout[];
  private readonly classes: Flyweights;
  /** The encoder `append` and `encode` use (each call finishes with it before returning). */
  private readonly scratch: FlyweightBase & EncoderMembers;

  /** Use {@link defineRecord}. */
  constructor(name: string, typeId: number, fields: F) {
    if (typeof name !== "string" || !NAME_RE.test(name)) throw new InvalidArgument("", `record name must be an identifier (dots allowed), got ${JSON.stringify(name)}`);
    if (!Number.isInteger(typeId) || typeId < 0 || typeId > MAX_TYPE_ID) throw new InvalidArgument("", `${name}: typeId must be an integer in [0, ${MAX_TYPE_ID}], got ${typeId}`);
    const layout = layOut(name, fields);
    this.name = name;
    this.typeId = typeId;
    this.fields = layout.fields;
    this.sizes = layout.sizes;
    this.version = layout.sizes.length;
    this.size = layout.sizes[this.version - 1]!;
    const defaultBytes = new Map<string, Uint8Array>();
    const info: SchemaInfo = { name, typeId, fields: layout.fields, sizes: layout.sizes, byName: new Map(layout.fields.map((f) => [f.name, f])), defaultBytes };
    this.classes = generateFlyweights(info);
    this.scratch = new this.classes.Encoder();
    this.checkDefaults(defaultBytes);
  }

  /** A new reusable read flyweight (make one per reading loop, not per record). */
  view(): RecordView<F> {
    return new this.classes.View() as unknown as RecordView<F>;
  }

  /** A new reusable write flyweight for the zero-allocation claim form. */
  encoder(): RecordEncoder<F> {
    return new this.classes.Encoder() as unknown as RecordEncoder<F>;
  }

  /**
   * Appends one record with these values and returns its seq (the values object is the only
   * allocation, the caller's). A value that does not fit is a RecordValueError and nothing is
   * appended.
   */
  append(writer: QueueWriter, values: RecordValues<F>, timestampNs?: bigint): number {
    const e = this.scratch;
    e.claim(writer);
    try {
      e.$fill(values);
      return e.commit(timestampNs);
    } catch (err) {
      e.abort();
      throw err;
    }
  }

  /** The payload bytes of a record with these values (allocates; for `append(typeId, bytes)` APIs and tests). */
  encode(values: RecordValues<F>): Uint8Array {
    const bytes = new Uint8Array(this.size);
    const e = this.scratch as unknown as { wrapBytes(b: Uint8Array): void } & EncoderMembers;
    e.wrapBytes(bytes);
    e.$fill(values);
    return bytes;
  }

  /** Checks every default by storing it, and keeps the bytes of string defaults. */
  private checkDefaults(defaultBytes: Map<string, Uint8Array>): void {
    const probe = new this.classes.Encoder() as unknown as Record<string, unknown> & { wrapBytes(b: Uint8Array): void };
    const bytes = new Uint8Array(this.size);
    probe.wrapBytes(bytes);
    for (const f of this.fields) {
      if (f.since === 1) continue;
      try {
        if (f.kind === "array") (probe[f.name] as { setAll(x: ArrayLike<unknown>): void }).setAll(new Array(f.count).fill(f.default));
        else probe[f.name] = f.default;
      } catch (e) {
        if (e instanceof RecordValueError) throw new InvalidArgument("", `invalid default: ${e.message}`);
        throw e;
      }
      if (f.kind === "ascii" || f.kind === "utf8") defaultBytes.set(f.name, bytes.slice(f.offset, f.offset + f.size));
    }
  }
}

/**
 * Defines a record schema: `defineRecord("Order", 7, { price: "f64", qty: "u32", symbol: "ascii:8" })`.
 * Field types: i8 u8 i16 u16 i32 u32 i64 u64 f32 f64 bool, `ascii:N`, `utf8:N`, arrays like
 * `f64[4]`; `{ type, since: 2, default }` for a field a later version appends. Mistakes in the
 * schema are an InvalidArgument here, unknown field names a compile error where it is used.
 */
export function defineRecord<const F extends RecordFields>(name: string, typeId: number, fields: F): RecordType<F> {
  return new RecordType(name, typeId, fields);
}

/** Whether `x` is a schema made by defineRecord (from this or another copy of the library). */
export function isRecordType(x: unknown): x is RecordType<RecordFields> {
  return typeof x === "object" && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
}
