/**
 * A reader whose queue directory is removed under it (issue 15 item 10): its mappings stay valid,
 * so nothing would ever change for it. The cold checks (a wait's slice, next() finding nothing,
 * writerStatus()) report QueueNotFound instead of waiting forever.
 */
import { describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { Queue, QueueNotFound } from "../src/index.ts";
import { settled, within } from "./helpers/async.ts";
import { thrown } from "./helpers/errors.ts";
import { readSeqs } from "./helpers/queue.ts";
import { runToEnd } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

/** Far above the reporting delay (about a second): only there to turn a hang into a failure. */
const HANG_BOUND_MS = 20_000;

function queueWithRecords(dir: string, n: number): void {
  using w = Queue.openPublisher(dir, { segmentSize: 64 << 10, preallocate: false });
  for (let i = 0; i < n; i++) w.append(1, new Uint8Array(10));
}

describe("a reader whose queue directory was removed", () => {
  test("a blocking wait() throws QueueNotFound (the directory removed by another process during the wait)", async () => {
    using tmp = new TempDir();
    queueWithRecords(tmp.path, 3);
    using r = Queue.openSubscriber(tmp.path, "r");
    expect(readSeqs(r)).toEqual([0, 1, 2]);
    const remover = Bun.spawn(["sh", "-c", `sleep 0.3; rm -rf '${tmp.path}'`]);
    // Either QueueNotFound, or (the defect) false after the whole bound.
    const e = thrown(() => r.wait(HANG_BOUND_MS));
    await remover.exited;
    expect(e).toBeInstanceOf(QueueNotFound);
    expect(e).toMatchObject({ code: "QUEUE_NOT_FOUND", path: tmp.path });
    r.close();
  }, HANG_BOUND_MS + 10_000);

  test("a pending waitAsync() rejects with QueueNotFound", async () => {
    using tmp = new TempDir();
    queueWithRecords(tmp.path, 3);
    using r = Queue.openAnonymous(tmp.path);
    expect(readSeqs(r)).toEqual([0, 1, 2]);
    const pending = settled(r.waitAsync(HANG_BOUND_MS));
    await Bun.sleep(100);
    rmSync(tmp.path, { recursive: true, force: true });
    const e = await within(pending, "waitAsync on a deleted queue", HANG_BOUND_MS + 5000);
    expect(e).toBeInstanceOf(QueueNotFound);
  }, HANG_BOUND_MS + 10_000);

  test("next() finding nothing and writerStatus() report QueueNotFound; close() still works", async () => {
    using tmp = new TempDir();
    queueWithRecords(tmp.path, 2);
    const r = Queue.openSubscriber(tmp.path, "r");
    expect(readSeqs(r)).toEqual([0, 1]);
    // Removed by another process, as an operator would.
    expect((await runToEnd(["rm", "-rf", tmp.path])).code).toBe(0);
    // next() looks at most about once a second (readSeqs' last call just did): poll until it reports.
    const deadline = Date.now() + HANG_BOUND_MS;
    let e: unknown = null;
    while (e === null && Date.now() < deadline) {
      try {
        expect(r.next()).toBeNull();
        Bun.sleepSync(10);
      } catch (err) {
        e = err;
      }
    }
    expect(e).toBeInstanceOf(QueueNotFound);
    // Reported at every call from then on, not once a period.
    expect(thrown(() => r.next())).toBeInstanceOf(QueueNotFound);
    expect(thrown(() => r.writerStatus())).toBeInstanceOf(QueueNotFound);
    r.close();
    expect(r.isClosed).toBe(true);
  }, HANG_BOUND_MS + 10_000);

  test("a queue that is still there: an idle reader's next() returns null and writerStatus() works", () => {
    using tmp = new TempDir();
    queueWithRecords(tmp.path, 1);
    using r = Queue.openAnonymous(tmp.path);
    expect(readSeqs(r)).toEqual([0]);
    for (let i = 0; i < 1000; i++) expect(r.next()).toBeNull();
    expect(r.writerStatus()).toMatchObject({ alive: false, closed: true });
    expect(r.wait(150)).toBe(false);
  });
});
