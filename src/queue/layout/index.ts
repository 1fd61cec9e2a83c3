export * from "./common.ts";
export * from "./record.ts";
export * from "./segment.ts";
export * from "./control.ts";
export * from "./readerMeta.ts";
export * from "./checkpoint.ts";
export * from "./writerLock.ts";
export * from "./files.ts";
