/** Worker side of SegmentPreparer: one segment per request, into the writer's spare window. */
import { Mapping, closeFd, openFd, unlinkPath, O_NOFOLLOW, O_RDWR } from "../ffi/index.ts";
import { PrepareSlot, PrepareStatus, type PopulateRequest, type PrepareRequest } from "./segmentPreparer.ts";
import { writeSegmentFile } from "./segment.ts";

declare const self: Worker;

const TOUCH_STRIDE = 4096;

self.onmessage = (event: MessageEvent<PrepareRequest | PopulateRequest>) => {
  const request = event.data;
  if (request.kind === "populate") {
    // Best effort: where the kernel cannot, the writer's own stores fault the pages in.
    Mapping.at(request.windowAddress, request.size).populateWrite(request.from, request.size);
    return;
  }
  const { path, id, size, windowAddress, state } = request;
  const status = new Int32Array(state);
  // Taken only if the writer has not given up on it meanwhile (see PrepareStatus).
  if (Atomics.compareExchange(status, PrepareSlot.STATUS, PrepareStatus.BUSY, PrepareStatus.WORKING) !== PrepareStatus.BUSY) return;
  const window = Mapping.at(windowAddress, size);
  let ok = false;
  try {
    window.blank();
    unlinkPath(path);
    writeSegmentFile(path, id, size);
    const fd = openFd(path, O_RDWR | O_NOFOLLOW);
    try {
      window.mapFile(fd, path);
    } finally {
      closeFd(fd);
    }
    // One store per page: page-cache allocation and the page-table fault happen here, not on
    // the append path. The pages are zero; storing zero keeps them so.
    const u8 = window.u8;
    for (let off = TOUCH_STRIDE; off < size; off += TOUCH_STRIDE) u8[off] = 0;
    ok = true;
  } catch {
    window.blank();
    unlinkPath(path);
  }
  Atomics.store(status, PrepareSlot.STATUS, ok ? PrepareStatus.READY : PrepareStatus.FAILED);
  Atomics.notify(status, PrepareSlot.STATUS);
};
