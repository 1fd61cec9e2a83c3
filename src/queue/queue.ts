/** Entry points: open a queue for writing or reading, and tell whether a directory is one. */
import { join } from "node:path";
import { fileSize } from "../ffi/index.ts";
import { CONTROL_FILE } from "./layout/index.ts";
import { validateDirPath } from "./names.ts";
import { QueueReader, type ReaderOptions } from "./reader.ts";
import { QueueWriter, type WriterOptions } from "./writer.ts";

export const Queue = {
  /** Opens (creating if needed) the queue in `dir` for writing; one writer per queue. */
  openPublisher(dir: string, opts?: WriterOptions): QueueWriter {
    return QueueWriter.open(dir, opts);
  },
  /** Opens a named reader whose position persists in `readers/<readerName>.meta`. */
  openSubscriber(dir: string, readerName: string, opts?: ReaderOptions): QueueReader {
    return QueueReader.open(dir, readerName, opts);
  },
  /** Opens a reader that persists nothing (for tools and one-off inspection). */
  openAnonymous(dir: string, opts?: Omit<ReaderOptions, "start"> & { start?: "earliest" | "latest" | undefined }): QueueReader {
    return QueueReader.open(dir, null, opts);
  },
} as const;

/** True when `dir` holds a queue (its control block exists). Reads nothing else. */
export function isQueueDirectory(dir: string): boolean {
  validateDirPath(dir, "queue directory");
  return fileSize(join(dir, CONTROL_FILE)) >= 0;
}
