/**
 * A reader that removes its meta file when it goes away cleanly (close, or SIGINT/SIGTERM/exit),
 * so transient readers (routers, tools) do not pin segments. A crash leaves the meta, and the
 * writer's reader TTL covers it.
 */
import { unlinkPath } from "../ffi/index.ts";
import { Queue } from "../queue/queue.ts";
import type { QueueReader, ReaderOptions } from "../queue/reader.ts";
import { readerMetaPath } from "../queue/readerMeta.ts";

const live = new Set<ReaderRegistration>();
let hooked = false;

function removeAll(): void {
  for (const r of live) r.unregister();
}

function hookProcessExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", removeAll);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      // The application handles this signal itself: leave shutdown to it (the exit hook still
      // removes the metas), rather than exiting under its feet.
      if (process.listenerCount(sig) > 1) return;
      removeAll();
      // Keep the default outcome of the signal: terminate with the conventional status.
      process.exit(128 + (sig === "SIGINT" ? 2 : 15));
    });
  }
}

/** A named reader whose meta file is removed when it is closed or the process exits cleanly (a signal too), so a reader that goes away holds no segments. */
export class ReaderRegistration implements Disposable {
  readonly reader: QueueReader;
  private readonly metaPath: string;
  private registered = true;

  constructor(queueDir: string, readerName: string, opts?: ReaderOptions) {
    this.reader = Queue.openSubscriber(queueDir, readerName, opts);
    this.metaPath = readerMetaPath(queueDir, readerName);
    live.add(this);
    hookProcessExit();
  }

  /** Closes the reader and deletes its meta. */
  unregister(): void {
    if (!this.registered) return;
    this.registered = false;
    live.delete(this);
    this.reader.close();
    unlinkPath(this.metaPath);
  }

  /** Same as unregister(). */
  close(): void {
    this.unregister();
  }

  /** Same as unregister(), for `using`. */
  [Symbol.dispose](): void {
    this.unregister();
  }
}
