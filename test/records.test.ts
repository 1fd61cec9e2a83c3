/**
 * Typed records on real queues: the claim form through a writer (and across segment rolls),
 * refused values appending nothing, several schemas in one queue, a writer process and a reader
 * process (also across versions), and `chronicle tail --decode` as a child process.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { InvalidArgument, Queue, RecordValueError, type MessageView } from "../src/index.ts";
import { thrown } from "./helpers/errors.ts";
import { FIXTURES, runToEnd, spawnFixture } from "./helpers/spawn.ts";
import { TempDir } from "./helpers/tmp.ts";
import { Note, Trade, tradeValues } from "./fixtures/records-schemas.ts";

const CLI = join(import.meta.dir, "..", "cli", "main.ts");
const SEGMENT = 1 << 16;

/** Every record of the queue in `dir`, passed to `each` (the view is valid only during the call). */
function readAll(dir: string, each: (m: MessageView) => void): void {
  using reader = Queue.openAnonymous(dir, { start: "earliest" });
  for (let m = reader.next(); m !== null; m = reader.next()) each(m);
}

describe("through a writer and a reader", () => {
  test("the claim form writes a record in place that a reader decodes; fields left unset read as zero; after commit the encoder writes nowhere", () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    {
      using w = Queue.openPublisher(dir, { segmentSize: SEGMENT });
      const e = Trade.encoder();
      e.claim(w);
      e.price = 101.25;
      e.symbol = "AAPL";
      e.id = 2n ** 64n - 1n;
      expect(e.commit()).toBe(0);
      // The published record can no longer be written through the encoder.
      expect(() => (e.qty = 1)).toThrow(RangeError);
      expect(() => (e.symbol = "X")).toThrow(InvalidArgument);
    }
    const seen: unknown[] = [];
    const t = Trade.view();
    readAll(dir, (m) => void (t.wrap(m) && seen.push(t.toObject())));
    expect(seen).toEqual([{ price: 101.25, qty: 0, buy: false, symbol: "AAPL", id: 2n ** 64n - 1n, delta: 0, px: [0, 0, 0], venue: "" }]);
  });

  test("claims that roll to a new segment are written into the new segment", () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    const count = 1500; // 128-byte records: about 500 per 64 KiB segment
    {
      using w = Queue.openPublisher(dir, { segmentSize: SEGMENT });
      const e = Trade.encoder();
      for (let i = 0; i < count; i++) {
        e.claim(w);
        e.qty = i;
        e.symbol = `S${i}`;
        e.commit();
      }
      expect(w.currentSegment).toBeGreaterThanOrEqual(2);
    }
    let n = 0;
    const t = Trade.view();
    readAll(dir, (m) => {
      expect(t.wrap(m)).toBe(true);
      expect([t.qty, t.symbol]).toEqual([n, `S${n}`]);
      n++;
    });
    expect(n).toBe(count);
  });

  test("append with a value that does not fit appends nothing and leaves the writer usable", () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    {
      using w = Queue.openPublisher(dir, { segmentSize: SEGMENT });
      const e = thrown(() => Trade.append(w, { ...tradeValues(1), symbol: "MUCH TOO LONG" }));
      expect(e).toBeInstanceOf(RecordValueError);
      expect(w.nextSeq).toBe(0);
      const encoder = Trade.encoder().claim(w);
      expect(thrown(() => (encoder.qty = -1))).toBeInstanceOf(RecordValueError);
      encoder.abort();
      expect(Trade.append(w, tradeValues(2))).toBe(0);
    }
    const seqs: number[] = [];
    readAll(dir, (m) => seqs.push(m.seq));
    expect(seqs).toEqual([0]);
  });
});

describe("across processes", () => {
  test("records appended by a writer process decode in a reader process that follows it; other types are not taken", async () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    const count = 300;
    await using child = spawnFixture("records-writer.ts", [dir, String(count), "v2"]);
    using reader = Queue.openSubscriber(dir, "records", { openTimeoutMs: 10_000 });
    const t = Trade.view();
    const note = Note.view();
    let trades = 0;
    let notes = 0;
    let others = 0;
    while (trades + notes + others < 3 * count) {
      const m = reader.next();
      if (m === null) {
        await reader.waitAsync({ timeoutMs: 1000 });
        continue;
      }
      if (t.wrap(m)) {
        expect(t.toObject()).toEqual({ ...tradeValues(trades), px: tradeValues(trades).px.map(Math.fround) });
        expect(t.version).toBe(2);
        expect(t.equals("symbol", `S${trades}`)).toBe(true);
        trades++;
      } else if (note.wrap(m)) {
        expect(note.text).toBe(`note ${notes++} ✓`);
      } else {
        expect(m.typeId).toBe(99);
        others++;
      }
    }
    expect([trades, notes, others]).toEqual([count, count, count]);
    expect((await child.exit()).code).toBe(0);
  });

  test("version-1 records written by another process read with version 2's default for the appended field", async () => {
    using tmp = new TempDir();
    const dir = tmp.join("q");
    await using child = spawnFixture("records-writer.ts", [dir, "3", "v1"]);
    expect(await child.line()).toBe("done");
    const t = Trade.view();
    const seen: unknown[] = [];
    readAll(dir, (m) => void (t.wrap(m) && seen.push([t.version, t.venue, t.qty, t.id])));
    expect(seen).toEqual([0, 1, 2].map((i) => [1, "NONE", i, 2n ** 63n + BigInt(i)]));
  });
});

describe("chronicle tail --decode", () => {
  /** A queue holding one Trade, one Note, a raw type-99 record, a JSON payload and a Trade-typed record of a wrong length. */
  function sampleQueue(tmp: TempDir): string {
    const dir = tmp.join("q");
    using w = Queue.openPublisher(dir, { segmentSize: SEGMENT });
    Trade.append(w, tradeValues(7));
    Note.append(w, { text: "hi" });
    w.append(99, new Uint8Array([1, 2]));
    w.append(5, new TextEncoder().encode(' {"a": [1, 2], "b": "x"}'));
    w.append(Trade.typeId, new Uint8Array(3));
    return dir;
  }

  const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => runToEnd(["bun", CLI, "tail", ...args], { env: { ...process.env, NO_COLOR: "1" } });

  test("schemas exported by a module decode their records by type id; JSON payloads show as JSON; a record a schema refuses is reported and tail exits 1", async () => {
    using tmp = new TempDir();
    const dir = sampleQueue(tmp);
    const schemas = join(FIXTURES, "records-schemas.ts");
    const text = await cli([dir, "--decode", schemas]);
    const lines = text.stdout.trimEnd().split("\n");
    expect(lines[0]).toEndWith(`type 21  len ${Trade.size}  Trade {"price":7.25,"qty":7,"buy":false,"symbol":"S7","id":"9223372036854775815","delta":993,"px":[7,0.5,-1],"venue":"V7"}`);
    expect(lines[1]).toEndWith(`Note {"text":"hi"}`);
    expect(lines[2]).toMatch(/type 99 {2}len 2$/);
    expect(lines[4]).toEndWith(`type 5  len 24  {"a":[1,2],"b":"x"}`);
    expect(lines[5]).toMatch(/type 21 {2}len 3$/);
    expect(text.stderr).toBe(`chronicle: --decode ${schemas}: seq 4 (type 21): a 3-byte payload of type 21 does not fit schema Trade: its versions have ${Trade.sizes[0]} (v1), ${Trade.sizes[1]} (v2) bytes, or more for a newer version\n`);
    expect(text.code).toBe(1);

    const asJson = await cli([dir, "--decode", schemas, "--json", "--limit", "4"]);
    const records = asJson.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    expect(records[0]).toMatchObject({ seq: 0, typeId: 21, record: "Trade", decoded: { symbol: "S7", id: "9223372036854775815", px: [7, 0.5, -1] } });
    expect(records[1]).toMatchObject({ record: "Note", decoded: { text: "hi" } });
    expect(records[2]).toMatchObject({ typeId: 99, hex: "0102" });
    expect(records[3]).toMatchObject({ typeId: 5, json: { a: [1, 2], b: "x" } });
    expect(records[3].text).toBeUndefined();
    expect(asJson.code).toBe(0);
  });

  test("a decode(view) module's values are printed; a record it throws on is reported with the module and seq, shown as usual, and tail goes on and exits 1", async () => {
    using tmp = new TempDir();
    const dir = sampleQueue(tmp);
    const decoder = join(FIXTURES, "records-decoder.ts");
    const r = await cli([dir, "--decode", decoder]);
    const lines = r.stdout.trimEnd().split("\n");
    const at = (typeId: number): number => lines.findIndex((l) => l.includes(`type ${typeId}  `));
    expect(lines[at(22)]).toEndWith("type 22  len 16  note says hi");
    expect(lines[at(99)]).toMatch(/type 99 {2}len 2$/);
    expect(lines[at(99) + 1]).toContain("000000  01 02");
    expect(lines[at(5)]).toEndWith(`{"a":[1,2],"b":"x"}`);
    expect(r.stderr).toBe(`chronicle: --decode ${decoder}: seq 2 (type 99): type 99 is not decodable\n`);
    expect(r.code).toBe(1);
  });

  test("a module that cannot be found, fails to load, or exports neither decode nor a schema is a one-line error naming it (exit 2)", async () => {
    using tmp = new TempDir();
    const dir = sampleQueue(tmp);
    const missing = await cli([dir, "--decode", "./no-such-decoder.ts"]);
    expect(missing).toMatchObject({ code: 2, stdout: "" });
    expect(missing.stderr).toMatch(/^chronicle: --decode \.\/no-such-decoder\.ts: no such module .*\n$/);
    const useless = join(import.meta.dir, "helpers", "tmp.ts");
    const empty = await cli([dir, "--decode", useless]);
    expect(empty).toMatchObject({ code: 2, stdout: "", stderr: `chronicle: --decode ${useless}: the module exports neither a decode(view) function nor a record schema (defineRecord)\n` });
    const broken = join(FIXTURES, "records-broken.ts");
    expect(await cli([dir, "--decode", broken])).toMatchObject({ code: 2, stdout: "", stderr: `chronicle: --decode ${broken}: the module failed to load: broken on purpose\n` });
  });
});
