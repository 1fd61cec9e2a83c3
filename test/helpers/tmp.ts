/** Temporary queue directories for tests, removed on dispose. */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export class TempDir implements Disposable {
  readonly path: string;

  constructor(prefix = "chronicle-test-") {
    this.path = mkdtempSync(join(tmpdir(), prefix));
  }

  /** A path inside the temp dir (not created). */
  join(...parts: string[]): string {
    return join(this.path, ...parts);
  }

  [Symbol.dispose](): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

/**
 * rm -rf that retries: when another process adds a file while the tree is being removed (a router
 * attaching to a strategy that is going away), Bun's rmSync stops part-way without an error.
 */
export function removeTree(path: string): void {
  for (let attempt = 0; attempt < 50 && existsSync(path); attempt++) rmSync(path, { recursive: true, force: true });
  if (existsSync(path)) throw new Error(`could not remove ${path}`);
}
