/** Shared file mappings exposed as typed-array views. */
import { toArrayBuffer } from "bun:ffi";
import { errnoError } from "./errno.ts";
import { libc, MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_WILLNEED, MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_FIXED, MS_ASYNC, MS_SYNC, PROT_READ, PROT_WRITE, SC_PAGESIZE } from "./libc.ts";

export const PAGE_SIZE = Number(libc.sysconf(SC_PAGESIZE));

/**
 * A fixed range of address space with typed-array views over it, holding either a MAP_SHARED
 * mapping of a file (read-write, or read-only: PROT_READ) or blank pages. A window can be
 * re-pointed at another file of the same size in place (MAP_FIXED), so the views, and any JIT
 * code that cached them, stay valid: only `unmap()` ends them, and owners guard every entry point
 * with their own closed flag after that, because touching unmapped memory crashes the process.
 *
 * A read-only mapping must never be the target of an `Atomics` operation: JavaScriptCore's JIT
 * implements even `Atomics.load` as a locked read-modify-write, which faults on such a page.
 */
export class Mapping {
  readonly address: number;
  readonly length: number;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly data: DataView;
  private mapped = true;

  private constructor(address: number, length: number) {
    this.address = address;
    this.length = length;
    const buffer = toArrayBuffer(address, 0, length);
    this.u8 = new Uint8Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.data = new DataView(buffer);
  }

  /** Maps `length` bytes of `fd` from offset 0: read-write (`fd` opened so), or read-only. */
  static map(fd: number, length: number, path: string, writable = true): Mapping {
    const address = libc.mmap(null, length, protection(writable), MAP_SHARED, fd, 0);
    // MAP_FAILED ((void*)-1) does not fit a JS pointer number, so bun:ffi returns it as a BigInt.
    if (typeof address !== "number" || address === 0) throw errnoError("mmap", path);
    return new Mapping(address, length);
  }

  /**
   * A view of a range reserved elsewhere in this process (another thread's window). The caller
   * must not unmap it; the owner does.
   */
  static at(address: number, length: number): Mapping {
    return new Mapping(address, length);
  }

  /** Reserves `length` bytes of blank address space to map files into later. */
  static reserve(length: number): Mapping {
    const address = libc.mmap(null, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (typeof address !== "number" || address === 0) throw errnoError("mmap", "(anonymous)");
    return new Mapping(address, length);
  }

  /**
   * Replaces whatever the window holds with [0, length) of `fd`, read-write or read-only (`fd`
   * opened accordingly). On failure the window is left
   * blank (reads see zeros) rather than half-mapped.
   */
  mapFile(fd: number, path: string, writable = true): void {
    const address = libc.mmap(this.address, this.length, protection(writable), MAP_SHARED | MAP_FIXED, fd, 0);
    if (address !== this.address) {
      const err = errnoError("mmap", path);
      this.blank();
      throw err;
    }
  }

  /** Drops the file held by the window; the range stays reserved and reads see zeros. */
  blank(): void {
    if (!this.mapped) return;
    libc.mmap(this.address, this.length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  }

  get isMapped(): boolean {
    return this.mapped;
  }

  /**
   * msync of the pages covering [from, to). `sync` waits for the data to reach the device
   * (MS_SYNC); otherwise the write-back is only scheduled (MS_ASYNC).
   */
  flush(from: number, to: number, sync: boolean, path: string): void {
    if (!this.mapped || to <= from) return;
    const start = from - (from % PAGE_SIZE);
    const end = Math.min(this.length, to);
    if (libc.msync(this.address + start, end - start, sync ? MS_SYNC : MS_ASYNC) !== 0) {
      throw errnoError("msync", path);
    }
  }

  /**
   * Write-faults the pages covering [from, to) without changing a byte, so later stores into them
   * take no page fault. Safe while another thread writes the range. Best effort: false when the
   * kernel does not support it (before 5.14) or cannot populate now.
   */
  populateWrite(from: number, to: number): boolean {
    if (!this.mapped) return false;
    const start = from - (from % PAGE_SIZE);
    const end = Math.min(this.length, to);
    if (end <= start) return true;
    return libc.madvise(this.address + start, end - start, MADV_POPULATE_WRITE) === 0;
  }

  /**
   * Asks the kernel to read in and map the pages covering [from, to) now (MADV_POPULATE_READ,
   * or MADV_WILLNEED before Linux 5.14), so a reader walking them takes no page fault each.
   * Best effort: false when neither is possible.
   */
  populateRead(from: number, to: number): boolean {
    if (!this.mapped) return false;
    const start = from - (from % PAGE_SIZE);
    const end = Math.min(this.length, to);
    if (end <= start) return true;
    if (libc.madvise(this.address + start, end - start, MADV_POPULATE_READ) === 0) return true;
    return libc.madvise(this.address + start, end - start, MADV_WILLNEED) === 0;
  }

  unmap(): void {
    if (!this.mapped) return;
    this.mapped = false;
    libc.munmap(this.address, this.length);
  }
}

function protection(writable: boolean): number {
  return writable ? PROT_READ | PROT_WRITE : PROT_READ;
}
