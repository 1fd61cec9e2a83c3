/** Names of the files inside a queue directory, and the suffixes of files being built. */

export const CONTROL_FILE = "control.meta";
export const CONTROL_TMP_FILE = "control.tmp";
export const WRITER_LOCK_FILE = "writer.lock";
/** The checkpoint: where a tail scan may start (a hint). */
export const CHECKPOINT_FILE = "index.meta";
export const READERS_DIR = "readers";
export const READER_META_EXT = ".meta";
/** Longest reader name accepted (keeps "<name>.meta" within NAME_MAX). */
export const MAX_READER_NAME_BYTES = 200;

/** A file being written, renamed or linked into place when complete (a leftover is an interrupted write). */
export const TMP_SUFFIX = ".tmp";
/** A segment the writer's preparer built ahead of the roll ("000000007.q.prep"). */
export const PREPARED_SUFFIX = ".prep";

/**
 * A file named like a segment that is not a valid one, set aside by writer recovery
 * ("000000999.q.3.corrupt", with the epoch of the writer that set it aside).
 */
export const CORRUPT_SUFFIX = ".corrupt";

/** Where recovery moves a stray segment file: beside it, named so nothing takes it for a segment. */
export function setAsidePath(path: string, epoch: number): string {
  return `${path}.${epoch}${CORRUPT_SUFFIX}`;
}

export function isSetAsideFileName(name: string): boolean {
  return name.endsWith(CORRUPT_SUFFIX);
}

/** The temp file beside `path` that becomes `path` when complete. */
export function tempPath(path: string): string {
  return path + TMP_SUFFIX;
}

/** True for names of files left by an interrupted write (temp or prepared files). */
export function isTempFileName(name: string): boolean {
  return name === CONTROL_TMP_FILE || name.endsWith(TMP_SUFFIX) || name.endsWith(PREPARED_SUFFIX);
}
