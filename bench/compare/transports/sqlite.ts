/**
 * bun:sqlite as a queue: one database file per direction in WAL mode, the writer inserts one row
 * per message (its own transaction), the reader polls by rowid. SQLite has no cross-process
 * notification, so an idle reader polls every POLL_MS.
 */
import { Database, type Statement } from "bun:sqlite";
import { join } from "node:path";
import { aSends, type Endpoint, type FrameHandler, type Guard, type RunSpec, type Transport } from "../types.ts";

const POLL_MS = 1;
const BATCH = 1024;

function create(path: string): void {
  const db = new Database(path, { create: true });
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE q (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  } finally {
    db.close();
  }
}

function connect(path: string): Database {
  const db = new Database(path);
  // NORMAL in WAL mode: a commit survives a crash of the process, not a power loss (no fsync per commit).
  db.exec("PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA busy_timeout = 5000");
  return db;
}

class SqliteEndpoint implements Endpoint {
  private readonly insert: Statement | null;
  private readonly select: Statement<[number, Uint8Array], [number]> | null;
  private last = 0;

  constructor(
    private readonly out: Database | null,
    private readonly inbound: Database | null,
  ) {
    this.insert = out?.prepare("INSERT INTO q (body) VALUES (?)") ?? null;
    this.select = inbound?.prepare<[number, Uint8Array], [number]>(`SELECT id, body FROM q WHERE id > ? ORDER BY id LIMIT ${BATCH}`) ?? null;
  }

  send(frame: Uint8Array): void {
    this.insert!.run(frame);
  }

  async receive(onFrame: FrameHandler, guard: Guard): Promise<void> {
    const select = this.select!;
    for (;;) {
      const rows = select.values(this.last) as unknown as [number, Uint8Array][];
      for (const [id, body] of rows) {
        this.last = id;
        if (onFrame(body, 0, body.length)) return;
      }
      if (rows.length === 0) {
        guard.check();
        await Bun.sleep(POLL_MS);
      }
    }
  }

  close(): void {
    this.insert?.finalize();
    this.select?.finalize();
    this.out?.close();
    this.inbound?.close();
  }
}

export const sqlite: Transport = {
  id: "sqlite",
  label: "bun:sqlite table (WAL), polled",
  short: "SQLite WAL",
  guarantees:
    "Persisted: a commit survives a process crash (synchronous=NORMAL; FULL adds an fsync per commit for power loss). " +
    `Replay by rowid; any number of readers, each tracking its own rowid. No cross-process notification: readers poll (every ${POLL_MS} ms when idle here).`,
  settings: `SQLite: WAL with synchronous=NORMAL, one row (one transaction) per message, the reader polls by rowid every ${POLL_MS} ms when idle`,
  async openA(spec: RunSpec, spawnPeer) {
    const a2b = join(spec.dir, "a2b.db");
    const b2a = join(spec.dir, "b2a.db");
    create(b2a);
    if (aSends(spec)) create(a2b);
    const endpoint = new SqliteEndpoint(aSends(spec) ? connect(a2b) : null, connect(b2a));
    spawnPeer();
    return endpoint;
  },
  async openB(spec: RunSpec) {
    return new SqliteEndpoint(connect(join(spec.dir, "b2a.db")), aSends(spec) ? connect(join(spec.dir, "a2b.db")) : null);
  },
};
