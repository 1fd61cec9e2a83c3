export * from "./libc.ts";
export * from "./errno.ts";
export * from "./files.ts";
export * from "./mmap.ts";
export * from "./futex.ts";
export * from "./clock.ts";
export * from "./process.ts";
export * from "./inotify.ts";
