/** writer.lock: flock target whose text names the owner: "<pid> <starttime> <writer_epoch>\n". */

export interface WriterLockRecord {
  pid: number;
  startTime: string;
  epoch: number;
}

export function formatWriterLock(r: WriterLockRecord): string {
  return `${r.pid} ${r.startTime} ${r.epoch}\n`;
}

/** Parses a lock record; null when the text is not one. */
export function parseWriterLock(text: string): WriterLockRecord | null {
  const m = /^(\d+) (\d+) (\d+)\n?$/.exec(text);
  if (!m) return null;
  return { pid: Number(m[1]), startTime: m[2]!, epoch: Number(m[3]) };
}
