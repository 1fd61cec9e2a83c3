/** BusLayout is pure path logic (FORMAT.md, Bus layout): no file is touched. */
import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { BusLayout, InvalidArgument, MAX_STRATEGY_ID_BYTES } from "../../src/index.ts";
import { thrown } from "../helpers/errors.ts";

describe("BusLayout", () => {
  test("strategy endpoints follow FORMAT.md, Bus layout: <root>/orders/queue/<id>/orders_out and orders_in", () => {
    const layout = new BusLayout("/srv/bus");
    expect(layout.root).toBe("/srv/bus");
    expect(layout.strategiesDir).toBe("/srv/bus/orders/queue");
    expect(layout.strategyDir("alpha")).toBe("/srv/bus/orders/queue/alpha");
    expect(layout.strategyEndpoints("alpha")).toEqual({
      ordersOut: "/srv/bus/orders/queue/alpha/orders_out",
      ordersIn: "/srv/bus/orders/queue/alpha/orders_in",
    });
    // Relative roots are resolved once, so endpoints stay valid if the process changes directory.
    expect(new BusLayout("rel/bus").strategyEndpoints("x").ordersOut).toBe(resolve("rel/bus/orders/queue/x/orders_out"));
    expect(layout.strategyEndpoints("a.b-c_d é").ordersIn).toBe("/srv/bus/orders/queue/a.b-c_d é/orders_in");
  });

  test("ids that could escape the root or are unusable throw InvalidArgument", () => {
    const layout = new BusLayout("/srv/bus");
    const bad: unknown[] = ["", ".", "..", "/", "a/b", "../x", "/etc", "a\0b", "\0", "x".repeat(MAX_STRATEGY_ID_BYTES + 1), "é".repeat(65), 42, null];
    for (const id of bad) {
      const caught = thrown(() => layout.strategyEndpoints(id as string));
      expect(caught).toBeInstanceOf(InvalidArgument);
      expect((caught as InvalidArgument).code).toBe("INVALID_ARGUMENT");
      expect(() => layout.strategyDir(id as string)).toThrow(InvalidArgument);
    }
    expect(layout.strategyDir("x".repeat(MAX_STRATEGY_ID_BYTES))).toBe(`/srv/bus/orders/queue/${"x".repeat(MAX_STRATEGY_ID_BYTES)}`);
    expect(layout.strategyDir("...")).toBe("/srv/bus/orders/queue/...");
    expect(() => new BusLayout("")).toThrow(InvalidArgument);
    expect(() => new BusLayout("/tmp/a\0b")).toThrow(InvalidArgument);
  });
});
