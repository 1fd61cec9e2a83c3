/** READY and LEASE markers of a bus endpoint (docs/FORMAT.md, Bus layout). Both are written temp + rename. */
import { join } from "node:path";
import { lstatSync } from "node:fs";
import { InvalidArgument } from "../errors.ts";
import { queueFileMode } from "../queue/access.ts";
import { checkAtLeast, checkOptions, describe, type OptionalFields } from "../queue/args.ts";
import { validateDirPath } from "../queue/names.ts";
import { tempPath } from "../queue/layout/files.ts";
import { fromNodeError, readSmallFile, realtimeNs, writeFileAtomic, isProcessAlive } from "../ffi/index.ts";

/** Name of the marker file that makes an endpoint ready for discovery. */
export const READY_FILE = "READY";
/** Name of the file with the endpoint owner's lease. */
export const LEASE_FILE = "LEASE";
/** Highest READY version this library understands. */
export const SUPPORTED_READY_VERSION = 1;

/** Marks an endpoint ready for discovery (`READY` with `version=N`). */
export function markReady(endpointDir: string, version = SUPPORTED_READY_VERSION): void {
  validateDirPath(endpointDir, "endpoint directory");
  if (!Number.isInteger(version) || version < 1) throw new InvalidArgument(endpointDir, `READY version must be an integer >= 1, got ${String(version)}`);
  const path = join(endpointDir, READY_FILE);
  writeFileAtomic(path, tempPath(path), Buffer.from(`version=${version}\n`), false, queueFileMode(endpointDir));
}

/**
 * The READY version of an endpoint: null when READY is absent or not a regular file, 1 for an
 * empty file, otherwise the `version=` value (NaN when unparseable, which callers treat as
 * unsupported).
 */
export function readyVersion(endpointDir: string): number | null {
  validateDirPath(endpointDir, "endpoint directory");
  const path = join(endpointDir, READY_FILE);
  try {
    if (!lstatSync(path).isFile()) return null;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw fromNodeError("lstat", path, e);
  }
  const file = readSmallFile(path);
  if (file === null || file.kind !== "regular file") return null;
  const text = Buffer.from(file.bytes).toString("utf8").trim();
  if (text === "") return 1;
  const m = /^version=(\d+)$/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** An endpoint owner's lease: its pid, its writer epoch and when it was last refreshed (wall-clock ns). */
export interface Lease {
  pid: number;
  epoch: number;
  timestampNs: bigint;
}

/** The fields of a lease argument, checked (`complete`: all present, as readLease returns them). */
function checkLease(path: string, lease: OptionalFields<Lease>, complete: boolean): void {
  if (lease.epoch === undefined) throw new InvalidArgument(path, "lease.epoch is required");
  checkAtLeast(lease.epoch, "lease.epoch", 0, path, true);
  if (complete && lease.pid === undefined) throw new InvalidArgument(path, "lease.pid is required");
  checkAtLeast(lease.pid, "lease.pid", 1, path, true);
  if (lease.timestampNs === undefined ? complete : typeof lease.timestampNs !== "bigint") {
    throw new InvalidArgument(path, `lease.timestampNs must be a bigint, got ${describe(lease.timestampNs)}`);
  }
}

/** Writes (or refreshes) an endpoint's LEASE. */
export function writeLease(endpointDir: string, lease: { pid?: number | undefined; epoch: number; timestampNs?: bigint | undefined }): void {
  validateDirPath(endpointDir, "endpoint directory");
  checkLease(endpointDir, checkOptions(lease, "lease", endpointDir), false);
  const body = {
    pid: lease.pid ?? process.pid,
    epoch: lease.epoch,
    timestamp_ns: String(lease.timestampNs ?? realtimeNs()),
  };
  const path = join(endpointDir, LEASE_FILE);
  writeFileAtomic(path, tempPath(path), Buffer.from(JSON.stringify(body) + "\n"), false, queueFileMode(endpointDir));
}

/** Reads an endpoint's LEASE; null when absent or malformed. */
export function readLease(endpointDir: string): Lease | null {
  validateDirPath(endpointDir, "endpoint directory");
  const file = readSmallFile(join(endpointDir, LEASE_FILE));
  if (file === null || file.kind !== "regular file") return null;
  try {
    const o = JSON.parse(Buffer.from(file.bytes).toString("utf8")) as { pid: unknown; epoch: unknown; timestamp_ns: unknown };
    if (typeof o.pid !== "number" || typeof o.epoch !== "number") return null;
    return { pid: o.pid, epoch: o.epoch, timestampNs: BigInt(o.timestamp_ns as string) };
  } catch {
    return null;
  }
}

/** A lease is stale when its process is gone or it was not refreshed within `ttlMs`. */
export function isLeaseStale(lease: Lease, ttlMs: number, nowNs: bigint = realtimeNs()): boolean {
  checkLease("", checkOptions(lease, "lease", ""), true);
  if (typeof ttlMs !== "number") throw new InvalidArgument("", `ttlMs must be a number, got ${describe(ttlMs)}`);
  checkAtLeast(ttlMs, "ttlMs", 0, "");
  if (typeof nowNs !== "bigint") throw new InvalidArgument("", `nowNs must be a bigint, got ${describe(nowNs)}`);
  if (!isProcessAlive(lease.pid)) return true;
  return nowNs - lease.timestampNs > BigInt(Math.round(ttlMs * 1e6));
}
