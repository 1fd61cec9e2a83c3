/** The shared test helpers themselves (the parts that need no queue, file or process). */
import { describe, expect, test } from "bun:test";
import { collectUntil, eventually, settled, within } from "../helpers/async.ts";
import { thrown } from "../helpers/errors.ts";
import { fillPayload, payloadMismatch, payloadSize } from "../helpers/payloads.ts";
import { drain, range } from "../helpers/queue.ts";
import { together, type Child } from "../helpers/spawn.ts";

describe("range", () => {
  test("from up to, not including, to; empty when to <= from", () => {
    expect(range(0, 4)).toEqual([0, 1, 2, 3]);
    expect(range(7, 9)).toEqual([7, 8]);
    expect(range(3, 3)).toEqual([]);
    expect(range(5, 2)).toEqual([]);
  });
});

describe("deterministic payloads", () => {
  test("sizes stay within [0, max], and are not all the same", () => {
    const sizes = range(0, 1000).map((seq) => payloadSize(seq, 300));
    expect(sizes.every((n) => Number.isInteger(n) && n >= 0 && n <= 300)).toBe(true);
    expect(new Set(sizes).size).toBeGreaterThan(100);
    expect(range(0, 50).every((seq) => payloadSize(seq, 0) === 0)).toBe(true);
  });

  test("a filled payload matches its seq; a changed byte, another seq or another length is found", () => {
    const seq = 12345;
    const bytes = fillPayload(seq, new Uint8Array(payloadSize(seq, 4096)));
    expect(bytes.length).toBeGreaterThan(1);
    expect(payloadMismatch(seq, bytes, 4096)).toBe(-1);
    expect(payloadMismatch(seq + 1, fillPayload(seq + 1, new Uint8Array(payloadSize(seq + 1, 4096))), 4096)).toBe(-1);
    const damaged = bytes.slice();
    damaged[1]! ^= 1;
    expect(payloadMismatch(seq, damaged, 4096)).toBe(1);
    expect(payloadMismatch(seq, bytes.subarray(1), 4096)).toBe(bytes.length - 1);
    const other = fillPayload(seq + 1, new Uint8Array(bytes.length));
    expect(payloadMismatch(seq, other, 4096)).toBe(0);
  });
});

describe("drain", () => {
  test("maps everything next() returns until null, and stops there", () => {
    const items = [3, 1, 4, null, 9];
    let calls = 0;
    const source = { next: (): number | null => items[calls++] ?? null };
    expect(drain(source, (n) => n * 10)).toEqual([30, 10, 40]);
    expect(calls).toBe(4);
  });
});

describe("thrown", () => {
  test("returns what the call threw, and throws when it returned", () => {
    const err = new RangeError("x");
    expect(thrown(() => {
      throw err;
    })).toBe(err);
    expect(() => thrown(() => 1)).toThrow("expected an error, but the call returned");
  });
});

describe("async helpers", () => {
  test("eventually returns the first accepted value, or the last one once the bound has passed", async () => {
    let n = 0;
    expect(await eventually(() => ++n, (v) => v >= 3, 5000, 1)).toBe(3);
    expect(n).toBe(3);
    let m = 0;
    expect(await eventually(() => ++m, () => false, 30, 1)).toBe(m);
    expect(m).toBeGreaterThan(1);
  });

  test("collectUntil gathers every batch until the whole is accepted", async () => {
    const batches = [[1], [], [2, 3], [4]];
    let i = 0;
    expect(await collectUntil(() => batches[i++] ?? [], (all) => all.length >= 3, 5000, 1)).toEqual([1, 2, 3]);
    expect(i).toBe(3);
    expect(await collectUntil(() => [], (all) => all.length > 0, 30, 1)).toEqual([]);
  });

  test("within passes a settled value through and rejects a hang; settled gives the rejection reason", async () => {
    expect(await within(Promise.resolve(5), "quick")).toBe(5);
    const hang = new Promise<never>(() => {});
    const e = await settled(within(hang, "the hang", 20));
    expect(e).toBeInstanceOf(Error);
    expect(String(e)).toContain("the hang: still pending after 20 ms");
    expect(await settled(Promise.resolve(1))).toBe("resolved");
    const reason = new Error("no");
    expect(await settled(Promise.reject(reason))).toBe(reason);
  });
});

describe("together", () => {
  test("await using disposes of every child, in order", async () => {
    const disposed: number[] = [];
    const fake = (i: number): Child => ({ [Symbol.asyncDispose]: async () => void disposed.push(i) }) as unknown as Child;
    {
      await using group = together([fake(0), fake(1), fake(2)]);
      expect(group.length).toBe(3);
    }
    expect(disposed).toEqual([0, 1, 2]);
  });
});
