/** FanInReader options, checked when the fan-in is made: no queue, no file. */
import { describe, expect, test } from "bun:test";
import { FanInReader, InvalidArgument } from "../../src/index.ts";

describe("FanInReader options", () => {
  test("a spin window that is negative or not a number is refused when the fan-in is made", () => {
    for (const spinMicros of [-1, Number.NaN, Infinity]) expect(() => new FanInReader({ spinMicros })).toThrow(InvalidArgument);
    using fan = new FanInReader({ spinMicros: 0 });
    expect(fan.wait(0)).toBe(false);
  });
});
