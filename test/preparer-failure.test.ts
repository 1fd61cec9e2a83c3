/**
 * A segment preparer that cannot work (issue 15 item 9): with almost no file descriptors left
 * its worker cannot even load. A roll must not wait a minute for it: the writer creates the
 * segment itself (or fails with a typed error such as ErrnoError EMFILE), and close() releases
 * the mappings and the writer lock at once whatever the preparer's state.
 */
import { describe, expect, test } from "bun:test";
import { Queue } from "../src/index.ts";
import { range, readRecords } from "./helpers/queue.ts";
import { mappingPermissions } from "./helpers/procfs.ts";
import { FIXTURES, spawnCommand } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";

/** Far above what the steps take (about 2 s for the roll): only there to tell a hang (60 s before) from a result. */
const HANG_BOUND_MS = 20_000;

describe("a writer whose segment preparer cannot start", () => {
  test("append across a roll returns or throws a typed error quickly, and close() releases the mappings and the lock", async () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    await using child = spawnCommand(["bash", "-c", `ulimit -n 8; exec bun '${FIXTURES}/roll-few-fds.ts' '${dir}'`]);
    const steps: Record<string, any> = {};
    for (let i = 0; i < 3; i++) {
      const line = JSON.parse(await child.line());
      steps[line.step] = line;
      if (line.step === "open" && !line.ok) break;
    }
    // The open itself may fail for want of descriptors, but only with a typed error.
    if (!steps.open.ok) {
      expect(steps.open).toMatchObject({ typed: true });
      return;
    }
    if (!steps.append.ok) expect(steps.append).toMatchObject({ typed: true });
    expect(steps.append.ms).toBeLessThan(HANG_BOUND_MS);
    expect(steps.close).toMatchObject({ ok: true });
    expect(steps.close.ms - steps.append.ms).toBeLessThan(HANG_BOUND_MS);

    // The child still runs: nothing of the queue is mapped in it, and its lock is gone.
    expect(mappingPermissions(dir, child.proc.pid).size).toBe(0);
    using w = Queue.openPublisher(dir, { segmentSize: 64 << 10, preallocate: false });
    // Nothing appended was lost: every record, across the rolls the writer made without the preparer.
    if (steps.append.ok) expect(readRecords(dir, (m) => m.seq)).toEqual(range(0, 200));
    w.append(1, new Uint8Array(10));
  }, HANG_BOUND_MS * 3);
});
