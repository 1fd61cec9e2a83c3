/**
 * The TypeScript side of schemas: what `o.price` is for a field declared "f64" (number), "u64"
 * (bigint, plus `priceHi`/`priceLo` numbers), "ascii:8" (string), "f64[4]" (an array accessor).
 * Names a schema does not declare are compile errors.
 */
import type { QueueWriter } from "../queue/writer.ts";
import type { RecordSource } from "./flyweight.ts";
import type { ArrayType, BigIntType, FieldOptions, FieldSpec, NumberType, RecordFields, StringType } from "./layout.ts";

/** The type name of a field spec. */
type TypeOf<S extends FieldSpec> = S extends FieldOptions ? S["type"] : S;

/** The keys of `F` whose type matches `Want`. */
type KeysOf<F extends RecordFields, Want> = { [K in keyof F & string]: TypeOf<F[K]> extends Want ? K : never }[keyof F & string];

/** What a scalar or string field reads as. */
type ValueOf<T> = T extends BigIntType ? bigint : T extends NumberType ? number : T extends "bool" ? boolean : T extends StringType ? string : never;

/** What `append` and `encode` take for a field (64-bit integers also as safe-integer numbers). */
type InputOf<T> = T extends BigIntType ? bigint | number : T extends ArrayType ? ArrayLike<number> : ValueOf<T>;

/** The reused accessor of an array field on a view, valid as long as the view. */
export interface RecordArray {
  readonly length: number;
  /** Element i (an InvalidArgument when i is not an index). */
  get(i: number): number;
  /** The elements as a new array (allocates). */
  toArray(): number[];
}

/** The accessor of an array field on an encoder. */
export interface RecordArrayWriter extends RecordArray {
  /** Stores element i (RecordValueError when the value does not fit the element type). */
  set(i: number, value: number): void;
  /** Stores every element; `values` must have exactly `length` of them. */
  setAll(values: ArrayLike<number>): void;
}

/** The string fields of a schema (for `equals` / `copyInto`). */
export type StringField<F extends RecordFields> = KeysOf<F, StringType>;

/** The values of every field, as `append` and `encode` take them. */
export type RecordValues<F extends RecordFields> = { [K in keyof F & string]: InputOf<TypeOf<F[K]>> };

/** The values of every field, as `toObject` returns them (arrays as number[]). */
export type RecordObject<F extends RecordFields> = { [K in keyof F & string]: TypeOf<F[K]> extends ArrayType ? number[] : ValueOf<TypeOf<F[K]>> };

type ScalarFields<F extends RecordFields> = { [K in Exclude<keyof F & string, KeysOf<F, ArrayType>>]: ValueOf<TypeOf<F[K]>> };
type ArrayFields<F extends RecordFields, A> = { readonly [K in KeysOf<F, ArrayType>]: A };
type HiLoFields<F extends RecordFields> = { [K in KeysOf<F, BigIntType> as `${K}Hi` | `${K}Lo`]: number };

/** Members of views and encoders alike. */
interface FlyweightMembers<F extends RecordFields> {
  /** The version of the schema the record was written by (0 before the first wrap). */
  readonly version: number;
  /** Whether string field `field` holds exactly `value` (a string, or its bytes without padding); no allocation. */
  equals(field: StringField<F>, value: string | Uint8Array): boolean;
  /** Copies the bytes of string field `field` (no padding) into `dst` from `offset`; returns the count. */
  copyInto(field: StringField<F>, dst: Uint8Array, offset?: number): number;
  /** The fields as a plain object (allocates). */
  toObject(): RecordObject<F>;
  /** The fields for JSON.stringify (64-bit integers as decimal strings). */
  toJSON(): Record<string, unknown>;
}

/**
 * A reusable, read-only flyweight over records of one schema. `wrap(m)` re-points it (no
 * allocation); it is valid as long as the message it wraps (a reader's: until its next call).
 * Numeric fields read with no allocation; strings allocate the JS string (`equals` does not).
 */
export type RecordView<F extends RecordFields> = Readonly<ScalarFields<F>> & ArrayFields<F, RecordArray> & Readonly<HiLoFields<F>> & FlyweightMembers<F> & {
  /**
   * Points the view at `m`: false when `m` has another type id (normal in a queue carrying
   * several types), true when it is this record. A record of this type id whose length no
   * version of the schema has is a `RecordMismatch`. An older version's missing fields read as
   * their defaults; a newer version's extra bytes are ignored.
   */
  wrap(m: RecordSource): boolean;
  /** Points the view at a payload held in plain bytes (a copy, a test); RecordMismatch for an impossible length. */
  wrapBytes(payload: Uint8Array): RecordView<F>;
};

/**
 * A reusable flyweight that writes records of one schema in place: `claim(writer)`, set the
 * fields, `commit()`. Setters refuse values that do not fit (RecordValueError) rather than
 * wrap or truncate them; fields left unset are zero (a claim is zero-filled memory). Valid
 * until `commit()` / `abort()`.
 */
export type RecordEncoder<F extends RecordFields> = ScalarFields<F> & ArrayFields<F, RecordArrayWriter> & HiLoFields<F> & FlyweightMembers<F> & {
  /** Reserves the record in the writer (`claimAt`) and points the encoder at it. */
  claim(writer: QueueWriter): RecordEncoder<F>;
  /** Publishes the claimed record (`commitClaim`); returns its seq. */
  commit(timestampNs?: bigint): number;
  /** Drops the claimed record (`abortClaim`); nothing if none is pending. */
  abort(): void;
  /** Points the encoder at `size` bytes of `bytes` from `offset`, to build a payload outside a queue. */
  wrapBytes(bytes: Uint8Array, offset?: number): RecordEncoder<F>;
};
