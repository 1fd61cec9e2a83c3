/** chronicle: persisted, low-latency inter-process queues for Bun on Linux. */
export { Queue, isQueueDirectory } from "./queue/queue.ts";
export { QueueWriter, type WriterOptions, type PublisherOptions } from "./queue/writer.ts";
export {
  QueueReader, type ReaderOptions, type SubscriberOptions, type StartPosition, type SeekStart, type SeekResult, type WriterStatus,
} from "./queue/reader.ts";
export type { AsyncWaitArg, WaitOptions, WaitStrategy } from "./queue/wait.ts";
export type { ReaderPosition } from "./queue/readerMeta.ts";
export { FanInReader, type FanInMessage, type FanInOptions } from "./queue/fanIn.ts";
export { inspectQueue, type QueueInfo } from "./queue/inspect.ts";
export { QueueStats, RootStats, findQueues, type QueueSample, type ReaderSample, type RootSample } from "./queue/stats.ts";
export { readerStatuses, type Head, type ReaderStatus, type ReaderState, type RetentionPolicy } from "./queue/retention.ts";
export { MessageView, type Message } from "./queue/messageView.ts";
export type { FormatVersion } from "./queue/layout/index.ts";
export * from "./errors.ts";
export * from "./bus/index.ts";
export * from "./records/index.ts";
