/**
 * Who may use a queue directory, and the modes of what chronicle creates. Files and directories
 * get explicit modes (chmod after creation, so the umask does not matter): 0600 files and 0700
 * directories unless a writer is given `mode`. A directory owned by another user (root excepted)
 * or writable by group or others is refused unless the caller passes `allowShared: true`: whoever
 * else can write there can plant files and links, or have created the queue in the first place.
 */
import { join } from "node:path";
import { InvalidArgument, UnsafePath } from "../errors.ts";
import { statOwner } from "../ffi/index.ts";
import { describe } from "./args.ts";
import { CONTROL_FILE } from "./layout/index.ts";

/** Mode of files chronicle creates when none is given. */
export const DEFAULT_FILE_MODE = 0o600;

/** A directory's mode for a file mode: each class that may read may also search (0644 -> 0755). */
export function dirModeFor(fileMode: number): number {
  return fileMode | ((fileMode & 0o444) >> 2);
}

/** An optional `mode` option: an integer file mode from 0 to 0o777 that the owner can read and write. */
export function checkMode(v: unknown, path: string): void {
  if (v === undefined) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0o777 || (v & 0o600) !== 0o600) {
    throw new InvalidArgument(path, `mode must be an integer file mode up to 0o777 with owner read and write (0o600), got ${describe(v)}`);
  }
}

/**
 * The mode for a new file of the queue in `dir`: control.meta's (what its writer chose), owner
 * writable; DEFAULT_FILE_MODE when it does not exist yet.
 */
export function queueFileMode(dir: string): number {
  const st = statOwner(join(dir, CONTROL_FILE));
  return st === null ? DEFAULT_FILE_MODE : (st.mode & 0o666) | 0o200;
}

/** The current user's uid. */
export function currentUid(): number {
  return process.getuid?.() ?? 0;
}

/**
 * Throws UnsafePath when `dir` exists and is owned by another user (root and this user are
 * trusted) or is writable by group or others, unless `allowShared`. A missing `dir` is fine: it
 * will be created with this user's modes.
 */
export function checkOwnDirectory(dir: string, what: string, allowShared: boolean | undefined): void {
  if (allowShared === true) return;
  const st = statOwner(dir);
  if (st === null) return;
  const uid = currentUid();
  if (st.uid !== uid && st.uid !== 0) {
    throw new UnsafePath(dir, `${what} is owned by uid ${st.uid}, not by this user (uid ${uid}); another user controls it. Use a directory of your own, or pass allowShared: true to use it anyway`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new UnsafePath(dir, `${what} is writable by group or others (mode 0${st.mode.toString(8)}); chmod go-w it, or pass allowShared: true to use it anyway`);
  }
}
