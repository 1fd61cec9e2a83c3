/** Validation of names that become path components inside a queue directory. */
import { InvalidArgument } from "../errors.ts";

/**
 * Checks that `name` is a single safe path component: non-empty, not "." or "..", no "/" or
 * NUL, at most `maxBytes` UTF-8 bytes. Throws InvalidArgument naming `what`.
 */
export function validateComponent(name: unknown, what: string, where: string, maxBytes: number): string {
  if (typeof name !== "string") throw new InvalidArgument(where, `${what} must be a string, got ${typeof name}`);
  if (name.length === 0) throw new InvalidArgument(where, `${what} must not be empty`);
  if (name === "." || name === "..") throw new InvalidArgument(where, `${what} must not be "${name}"`);
  if (name.includes("/")) throw new InvalidArgument(where, `${what} must not contain "/": ${JSON.stringify(name)}`);
  if (name.includes("\0")) throw new InvalidArgument(where, `${what} must not contain NUL`);
  if (Buffer.byteLength(name, "utf8") > maxBytes) throw new InvalidArgument(where, `${what} is longer than ${maxBytes} bytes`);
  return name;
}

/** Checks a directory path argument: a non-empty string without NUL. */
export function validateDirPath(dir: unknown, what: string): string {
  if (typeof dir !== "string" || dir.length === 0) throw new InvalidArgument(String(dir), `${what} must be a non-empty path string`);
  if (dir.includes("\0")) throw new InvalidArgument(dir, `${what} must not contain NUL`);
  return dir;
}
