/**
 * Type-level test of typed records, checked by `bunx tsc --noEmit` (this file is in the project;
 * `bunx tsc --noEmit -p test/types` checks it alone). Every `@ts-expect-error` line must be an
 * error: if the typing regresses so that one compiles, tsc reports the unused directive.
 * Nothing here runs.
 */
import { defineRecord, type QueueWriter, type MessageView } from "../../src/index.ts";

declare const writer: QueueWriter;
declare const m: MessageView;

const Order = defineRecord("Order", 7, {
  price: "f64", qty: "u32", side: "u8", symbol: "ascii:8", id: "u64", live: "bool", px: "f64[4]",
  venue: { type: "utf8:8", since: 2, default: "" },
});

export function reading(): void {
  const o = Order.view();
  if (!o.wrap(m)) return;
  const price: number = o.price;
  const symbol: string = o.symbol;
  const id: bigint = o.id;
  const idHi: number = o.idHi;
  const live: boolean = o.live;
  const px0: number = o.px.get(0);
  const venue: string = o.venue;
  const same: boolean = o.equals("symbol", "AAPL") && o.equals("venue", new Uint8Array(2));
  void [price, symbol, id, idHi, live, px0, venue, same];

  // @ts-expect-error unknown field
  void o.prize;
  // @ts-expect-error a u32 is a number, not a string
  const qty: string = o.qty;
  // @ts-expect-error a u64 is a bigint, not a number
  const idNumber: number = o.id;
  // @ts-expect-error only 64-bit fields have hi/lo accessors
  void o.qtyHi;
  // @ts-expect-error a view is read-only
  o.price = 1;
  // @ts-expect-error an array field is an accessor, not a number
  const pxNumber: number = o.px;
  // @ts-expect-error equals takes string fields only
  o.equals("price", "1");
  // @ts-expect-error a view has no claim form
  o.claim(writer);
  void [qty, idNumber, pxNumber];
}

export function writing(): void {
  const e = Order.encoder();
  e.claim(writer);
  e.price = 101.25;
  e.symbol = "AAPL";
  e.id = 5n;
  e.idLo = 5;
  e.px.set(0, 1);
  e.px.setAll([1, 2, 3, 4]);
  e.commit();

  e.claim(writer);
  // @ts-expect-error unknown field
  e.prize = 1;
  // @ts-expect-error a string field takes a string
  e.symbol = 5;
  // @ts-expect-error a bool field takes a boolean
  e.live = 1;
  // @ts-expect-error an array field is not assigned as a whole
  e.px = [1, 2, 3, 4];
  e.abort();

  Order.append(writer, { price: 1, qty: 1, side: 1, symbol: "A", id: 1, live: true, px: [0, 0, 0, 0], venue: "x" });
  // @ts-expect-error a field is missing
  Order.append(writer, { price: 1, qty: 1, side: 1, symbol: "A", id: 1n, live: true, px: [0, 0, 0, 0] });
  // @ts-expect-error unknown field
  Order.append(writer, { price: 1, qty: 1, side: 1, symbol: "A", id: 1n, live: true, px: [0, 0, 0, 0], venue: "x", extra: 1 });
  // @ts-expect-error a number where a string goes
  Order.encode({ price: 1, qty: 1, side: 1, symbol: 1, id: 1n, live: true, px: [0, 0, 0, 0], venue: "x" });
}

export function schemas(): void {
  // @ts-expect-error unknown field type
  defineRecord("Bad", 1, { x: "u128" });
  // @ts-expect-error a string needs a length
  defineRecord("Bad", 1, { x: "ascii" });
  // @ts-expect-error arrays of bool are not a type
  defineRecord("Bad", 1, { x: "bool[2]" });
}
