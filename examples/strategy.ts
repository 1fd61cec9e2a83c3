/**
 * A strategy: follows the feed, keeps the symbols it trades, sends orders to its orders_out,
 * marks the endpoint READY, refreshes its LEASE, and reads acks from its orders_in.
 *
 *   bun run examples/strategy.ts [busRoot] <strategyId> [--every 50] [--duration ms]
 *
 * busRoot defaults to <system temp dir>/chronicle-bus.
 *
 * Sends one order per --every ticks of its symbols. Prints one JSON summary line on exit.
 */
import { BusLayout, ChronicleError, FanInReader, Queue, isQueueDirectory, markReady, writeLease } from "../src/index.ts";
import { Ack, Order, Tick, commandLine, flag, percentile, eventLoopTurn, stopSignal, wallClockMs } from "./codec.ts";

const {
  root,
  names,
  flags: rest,
} = commandLine("usage: bun run examples/strategy.ts [busRoot] <strategyId> [--every N] [--duration ms]", 1);
// commandLine exits unless exactly one name was given.
const id = names[0]!;
const every = flag(rest, "every", 50);
const stop = stopSignal(flag(rest, "duration", Infinity));
const layout = new BusLayout(root);
const endpoints = strategyEndpointsOrExit(layout, id);

// The strategy trades the symbols whose number hashes to it (a stable, id-derived filter).
const salt = [...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
const trades = (symbol: number): boolean => ((symbol * 2654435761 + salt) >>> 0) % 3 === 0;

const orders = Queue.openPublisher(endpoints.ordersOut, { segmentSize: 1 << 20, preallocate: false });
markReady(endpoints.ordersOut);
// Ticks and acks are merged into one stream, so one wait covers both.
const inputs = new FanInReader();
const FEED = inputs.addReader(Queue.openSubscriber(layout.feed(), `strategy-${id}`, { start: "latest", openTimeoutMs: 5000 }));
let acksAttached = false;

// Reusable flyweights: views re-pointed at each message, an encoder that writes orders in place.
const tick = Tick.view();
const ack = Ack.view();
const order = Order.encoder();
let orderId = 0;
const ackLatencyUs: number[] = [];
/** How old each tick was when this strategy read it: how far behind the feed it ran. */
const tickAgeUs: number[] = [];
let ticksSeen = 0;
let relevant = 0;

const lease = setInterval(() => writeLease(endpoints.ordersOut, { epoch: orders.epoch }), 250);
writeLease(endpoints.ordersOut, { epoch: orders.epoch });

while (!stop.stopped) {
  // The router creates orders_in when it first replies.
  if (!acksAttached && isQueueDirectory(endpoints.ordersIn)) {
    inputs.addReader(Queue.openSubscriber(endpoints.ordersIn, `strategy-${id}`, { start: "earliest" }));
    acksAttached = true;
  }
  let worked = false;
  for (let m = inputs.next(); m !== null; m = inputs.next()) {
    worked = true;
    const msg = m.message;
    if (m.sourceId !== FEED) {
      if (ack.wrap(msg)) ackLatencyUs.push((wallClockMs() - ack.orderSentMs) * 1000);
      continue;
    }
    if (!tick.wrap(msg)) continue;
    ticksSeen++;
    tickAgeUs.push((wallClockMs() - tick.sentMs) * 1000);
    if (!trades(tick.symbol) || ++relevant % every !== 0) continue;
    const side = ++orderId % 2 === 0 ? 1 : 2;
    order.claim(orders);
    order.orderId = orderId;
    order.symbol = tick.symbol;
    order.side = side;
    order.qty = 1;
    order.price = side === 1 ? tick.ask : tick.bid;
    order.sentMs = wallClockMs();
    order.commit();
  }
  if (worked) inputs.commitAll();
  // A dedicated process waits on the futex (spin, then sleep) rather than through the event
  // loop: that saves the helper thread's hand-off, about 40 µs per wake-up. The wait is short,
  // so the lease timer and the stop signal still run in between.
  else inputs.wait(5);
  await eventLoopTurn();
}
clearInterval(lease);
inputs.close();
orders.close();
ackLatencyUs.sort((a, b) => a - b);
tickAgeUs.sort((a, b) => a - b);
console.log(JSON.stringify({
  process: "strategy", id, ticksSeen, orders: orderId, acks: ackLatencyUs.length,
  ackLatencyUs: { p50: percentile(ackLatencyUs, 50), p99: percentile(ackLatencyUs, 99), max: ackLatencyUs.at(-1) ?? null },
  tickAgeUs: { p50: percentile(tickAgeUs, 50), p99: percentile(tickAgeUs, 99), max: tickAgeUs.at(-1) ?? null },
}));
process.exit(0);

/** The strategy's endpoints; an unusable id is a one-line error (exit 2), not a stack trace. */
function strategyEndpointsOrExit(bus: BusLayout, strategyId: string): { ordersOut: string; ordersIn: string } {
  try {
    return bus.strategyEndpoints(strategyId);
  } catch (e) {
    if (!(e instanceof ChronicleError)) throw e;
    console.error(`strategy: ${e.message}`);
    process.exit(2);
  }
}
