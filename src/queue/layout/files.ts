/** Names of the files inside a queue directory. */

export const CONTROL_FILE = "control.meta";
export const CONTROL_TMP_FILE = "control.tmp";
export const WRITER_LOCK_FILE = "writer.lock";
export const INDEX_FILE = "index.meta";
export const READERS_DIR = "readers";
export const READER_META_EXT = ".meta";
/** Longest reader name accepted (keeps "<name>.meta" within NAME_MAX). */
export const MAX_READER_NAME_BYTES = 200;
