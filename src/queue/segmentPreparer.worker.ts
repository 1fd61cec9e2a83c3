/** Worker side of SegmentPreparer: build one segment file under its temporary name, then signal. */
import { Mapping, closeFd, openFd, unlinkPath, O_RDWR } from "../ffi/index.ts";
import { PrepareStatus, type PrepareRequest } from "./segmentPreparer.ts";
import { writeSegmentFile } from "./segment.ts";

declare const self: Worker;

const TOUCH_STRIDE = 4096;

self.onmessage = (event: MessageEvent<PrepareRequest>) => {
  const { path, id, size, state } = event.data;
  const status = new Int32Array(state);
  let ok = false;
  try {
    unlinkPath(path);
    writeSegmentFile(path, id, size);
    const fd = openFd(path, O_RDWR);
    try {
      const map = Mapping.map(fd, size, path);
      // One store per page allocates the page-cache page now instead of on the writer's path.
      const u8 = map.u8;
      for (let off = TOUCH_STRIDE; off < size; off += TOUCH_STRIDE) u8[off] = 0;
      map.unmap();
    } finally {
      closeFd(fd);
    }
    ok = true;
  } catch {
    unlinkPath(path);
  }
  if (Atomics.load(status, PrepareStatus.ID) === id) {
    Atomics.store(status, PrepareStatus.STATUS, ok ? PrepareStatus.READY : PrepareStatus.FAILED);
    Atomics.notify(status, PrepareStatus.STATUS);
  }
};
