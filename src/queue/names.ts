/** Validation of names that become path components inside a queue directory. */
import { InvalidArgument } from "../errors.ts";

/** C0 and C1 controls, DEL, and the bidi embeddings/overrides/isolates (U+202A-U+202E, U+2066-U+2069). */
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

/**
 * Checks that `name` is a single safe path component: non-empty, not "." or "..", no "/" or
 * NUL, no control characters or bidi overrides, at most `maxBytes` UTF-8 bytes. Throws InvalidArgument naming `what`.
 */
export function validateComponent(name: unknown, what: string, where: string, maxBytes: number): string {
  if (typeof name !== "string") throw new InvalidArgument(where, `${what} must be a string, got ${typeof name}`);
  if (name.length === 0) throw new InvalidArgument(where, `${what} must not be empty`);
  if (name === "." || name === "..") throw new InvalidArgument(where, `${what} must not be "${name}"`);
  if (name.includes("/")) throw new InvalidArgument(where, `${what} must not contain "/": ${JSON.stringify(name)}`);
  if (name.includes("\0")) throw new InvalidArgument(where, `${what} must not contain NUL`);
  // Shown by tools and logs: a control character or a bidi override could disguise the name.
  const bad = UNSAFE_CHARS.exec(name);
  if (bad !== null) {
    throw new InvalidArgument(where, `${what} must not contain control characters or bidirectional overrides, found U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}: ${JSON.stringify(name)}`);
  }
  if (Buffer.byteLength(name, "utf8") > maxBytes) throw new InvalidArgument(where, `${what} is longer than ${maxBytes} bytes`);
  return name;
}

/** Checks a directory path argument: a non-empty string without NUL. */
export function validateDirPath(dir: unknown, what: string): string {
  if (typeof dir !== "string" || dir.length === 0) throw new InvalidArgument(String(dir), `${what} must be a non-empty path string`);
  if (dir.includes("\0")) throw new InvalidArgument(dir, `${what} must not contain NUL`);
  return dir;
}
