/** Temporary queue directories for tests, removed on dispose. */
import { mkdtempSync, rmSync } from "node:fs";
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
