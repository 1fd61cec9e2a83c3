/**
 * Checks of arguments that the type signatures rule out but plain JavaScript callers can still
 * pass (an options object that is a number, null or an array; a known option of the wrong type).
 * Unknown option keys are ignored; a known one of the wrong type is an InvalidArgument naming it.
 */
import { InvalidArgument } from "../errors.ts";

/** A value as error messages show it: `null`, `an array`, `string "x"`, `number 5`, `function`. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return `${typeof v} ${String(v)}`;
  return typeof v;
}

/** `Partial<T>` that also takes explicit `undefined` values (callers under exactOptionalPropertyTypes pass them). */
export type OptionalFields<T> = { [K in keyof T]?: T[K] | undefined };

/** An options argument: undefined (no options) or a plain object, never null, an array or a primitive. */
export function checkOptions<T extends object>(opts: T | undefined, what: string, path: string): T {
  if (opts === undefined) return {} as T;
  if (typeof opts !== "object" || opts === null || Array.isArray(opts)) {
    throw new InvalidArgument(path, `${what} must be an object, got ${describe(opts)}`);
  }
  return opts;
}

/** An optional boolean option. */
export function checkBoolean(v: unknown, name: string, path: string): void {
  if (v !== undefined && typeof v !== "boolean") throw new InvalidArgument(path, `${name} must be a boolean, got ${describe(v)}`);
}

/** An optional number option of at least `min` (NaN refused; Infinity allowed unless `integer`). */
export function checkAtLeast(v: unknown, name: string, min: number, path: string, integer = false): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !(v >= min) || (integer && !Number.isInteger(v))) {
    throw new InvalidArgument(path, `${name} must be ${integer ? "an integer" : "a number"} >= ${min}, got ${describe(v)}`);
  }
}

/** An optional AbortSignal. */
export function checkSignal(v: unknown, path: string): AbortSignal | undefined {
  if (v !== undefined && !(v instanceof AbortSignal)) throw new InvalidArgument(path, `signal must be an AbortSignal, got ${describe(v)}`);
  return v;
}
