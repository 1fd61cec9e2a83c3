/**
 * Order management on the event store. Orders are placed on `order-<id>` streams; `FillOrder`
 * declares only its order's stream, discovers the account (`account-<id>`) and the instrument
 * (`instrument-<symbol>`) from the order's state, and writes the fill to the order and the
 * position change to the account in one atomic append, with the instrument as a read-only
 * participant (a halt appended meanwhile makes the fill conflict, retry and be rejected).
 * A projection process follows the store's log with a named reader and prints positions.
 *
 *   bun run examples/orders.ts [storeDir]
 *
 * Without an argument it uses a fresh temporary directory and removes it at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventStore, execute, type Command, type StoredEvent } from "../src/events/index.ts";

type OrderEvent =
  | { type: "OrderPlaced"; data: { orderId: string; accountId: string; symbol: string; side: "buy" | "sell"; qty: number; price: number } }
  | { type: "OrderFilled"; data: { qty: number; price: number } }
  | { type: "PositionChanged"; data: { symbol: string; delta: number; price: number } }
  | { type: "InstrumentListed"; data: { symbol: string } }
  | { type: "InstrumentHalted"; data: { symbol: string } }
  | { type: "AccountOpened"; data: { owner: string } };

/** What FillOrder folds from the order, its account and its instrument. */
interface FillState {
  order: { accountId: string; symbol: string; side: "buy" | "sell"; qty: number; filled: number; price: number } | null;
  accountOpen: boolean;
  listed: boolean;
  halted: boolean;
}

/** Fills `qty` of order `orderId` (all that is left when omitted). */
function fillOrder(orderId: string, qty?: number): Command<FillState, OrderEvent["data"]> {
  return {
    streams: [`order-${orderId}`],
    init: () => ({ order: null, accountOpen: false, listed: false, halted: false }),
    apply: (s, e: StoredEvent<OrderEvent["data"]>) => {
      const ev = { type: e.type, data: e.data } as OrderEvent;
      switch (ev.type) {
        case "OrderPlaced":
          return { ...s, order: { accountId: ev.data.accountId, symbol: ev.data.symbol, side: ev.data.side, qty: ev.data.qty, filled: 0, price: ev.data.price } };
        case "OrderFilled":
          return s.order === null ? s : { ...s, order: { ...s.order, filled: s.order.filled + ev.data.qty } };
        case "AccountOpened":
          return { ...s, accountOpen: true };
        case "InstrumentListed":
          return { ...s, listed: true };
        case "InstrumentHalted":
          return { ...s, halted: true };
        default:
          return s;
      }
    },
    // The order names its account and instrument: they are read (once each) before handle.
    discoverRelatedStreams: (s) => (s.order === null ? [] : [`account-${s.order.accountId}`, `instrument-${s.order.symbol}`]),
    handle: (s) => {
      if (s.order === null) throw new Error(`order ${orderId} does not exist`);
      if (!s.accountOpen) throw new Error(`account ${s.order.accountId} is not open`);
      if (!s.listed || s.halted) throw new Error(`instrument ${s.order.symbol} is not tradable`);
      const left = s.order.qty - s.order.filled;
      const fill = qty ?? left;
      if (fill <= 0 || fill > left) throw new Error(`order ${orderId}: cannot fill ${fill}, ${left} left`);
      const delta = s.order.side === "buy" ? fill : -fill;
      return [
        { stream: `order-${orderId}`, events: [{ type: "OrderFilled", data: { qty: fill, price: s.order.price } }] },
        { stream: `account-${s.order.accountId}`, events: [{ type: "PositionChanged", data: { symbol: s.order.symbol, delta, price: s.order.price } }] },
      ];
    },
  };
}

/** The projection: follows the log with the named reader "positions" until `fills` position changes were seen. */
async function runProjection(root: string, fills: number): Promise<void> {
  using store = EventStore.open(root);
  using sub = store.subscribe("positions");
  const positions = new Map<string, Map<string, number>>();
  let seen = 0;
  for await (const e of sub) {
    if (e.type !== "PositionChanged") continue;
    const d = e.data as { symbol: string; delta: number; price: number };
    const account = e.stream.slice("account-".length);
    const book = positions.get(account) ?? new Map<string, number>();
    positions.set(account, book);
    book.set(d.symbol, (book.get(d.symbol) ?? 0) + d.delta);
    console.log(`[projection] #${e.globalSeq} ${account} ${d.delta > 0 ? "+" : ""}${d.delta} ${d.symbol} @ ${d.price} -> ${book.get(d.symbol)}`);
    sub.commit();
    if (++seen === fills) break;
  }
  console.log("[projection] positions:");
  for (const [account, book] of [...positions].sort()) console.log(`[projection]   ${account}: ${[...book].map(([s, q]) => `${s} ${q}`).join(", ")}`);
}

async function main(): Promise<void> {
  const given = process.argv[2];
  const root = given ?? mkdtempSync(join(tmpdir(), "chronicle-orders-"));
  try {
    using store = EventStore.open(root);
    for (const owner of ["alice", "bob"]) store.append([{ stream: `account-${owner}`, expected: "no_stream", events: [{ type: "AccountOpened", data: { owner } }] }]);
    for (const symbol of ["ACME", "GLOBEX", "INITECH"]) store.append([{ stream: `instrument-${symbol}`, expected: "no_stream", events: [{ type: "InstrumentListed", data: { symbol } }] }]);
    const orders = [
      { orderId: "1", accountId: "alice", symbol: "ACME", side: "buy", qty: 100, price: 10.5 },
      { orderId: "2", accountId: "bob", symbol: "ACME", side: "sell", qty: 40, price: 10.6 },
      { orderId: "3", accountId: "alice", symbol: "GLOBEX", side: "buy", qty: 10, price: 99 },
      { orderId: "4", accountId: "bob", symbol: "INITECH", side: "buy", qty: 7, price: 3.25 },
    ] as const;
    for (const o of orders) store.append([{ stream: `order-${o.orderId}`, expected: "no_stream", events: [{ type: "OrderPlaced", data: o }] }]);

    const fills: [string, number | undefined][] = [["1", 60], ["2", undefined], ["1", undefined], ["3", 4], ["4", undefined]];
    const projection = Bun.spawn(["bun", import.meta.path, "projection", root, String(fills.length)], { stdout: "inherit", stderr: "inherit" });

    for (const [orderId, qty] of fills) {
      const r = await execute(store, fillOrder(orderId, qty), { trace: (t) => t.kind === "conflict" && console.log(`[orders] fill of order ${orderId} conflicted, retrying`) });
      console.log(`[orders] FillOrder(${orderId}${qty === undefined ? "" : `, ${qty}`}): visited ${r.visited.join(", ")}; wrote ${r.written.map((e) => `${e.stream}@${e.version}`).join(" + ")} in attempt ${r.attempts}`);
    }
    // Business rules are permanent rejections (never retried), such as an over-fill.
    const overFill = await execute(store, fillOrder("1", 1)).catch((e: unknown) => e);
    console.log(`[orders] FillOrder(1, 1) rejected: ${(overFill as Error).message}`);
    // The instrument is only read, yet it is part of the write barrier: halting it between the
    // fill's read and its append (as another process could) makes the append conflict; the retry
    // reads the halt and rejects the fill.
    let halted = false;
    const onHalted = await execute(store, fillOrder("3"), {
      trace: (t) => {
        if (t.kind === "visited" && t.stream === "instrument-GLOBEX" && !halted) {
          halted = true;
          store.append([{ stream: "instrument-GLOBEX", expected: "exists", events: [{ type: "InstrumentHalted", data: { symbol: "GLOBEX" } }] }]);
        }
        if (t.kind === "conflict") console.log(`[orders] FillOrder(3) conflicted on ${t.error.conflicts.map((c) => c.stream).join(", ")}; retrying`);
      },
    }).catch((e: unknown) => e);
    console.log(`[orders] FillOrder(3) rejected: ${(onHalted as Error).message}`);

    const code = await projection.exited;
    if (code !== 0) throw new Error(`projection exited with ${code}`);
    console.log(`[orders] store ${given ?? "(temporary)"}: ${store.stats.batches} appends, ${store.stats.lastGlobalSeq} events in ${store.stats.streams} streams`);
  } finally {
    if (given === undefined) rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === "projection") await runProjection(process.argv[3]!, Number(process.argv[4]));
else await main();
