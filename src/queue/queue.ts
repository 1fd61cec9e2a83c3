/** Entry points: open a queue for writing or reading. */
import { QueueReader, type SubscriberOptions } from "./reader.ts";
import { QueueWriter, type PublisherOptions } from "./writer.ts";

export const Queue = {
  /** Opens (creating if needed) the queue in `dir` for writing; one writer per queue. */
  openPublisher(dir: string, opts?: PublisherOptions): QueueWriter {
    return QueueWriter.open(dir, opts);
  },
  /** Opens a named reader whose position persists in `readers/<readerName>.meta`. */
  openSubscriber(dir: string, readerName: string, opts?: SubscriberOptions): QueueReader {
    return QueueReader.open(dir, readerName, opts);
  },
  /** Opens a reader that persists nothing (for tools and one-off inspection). */
  openAnonymous(dir: string, opts?: Omit<SubscriberOptions, "start"> & { start?: "earliest" | "latest" }): QueueReader {
    return QueueReader.open(dir, null, opts);
  },
} as const;
