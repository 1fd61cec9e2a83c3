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
import { ACK_SIZE, MsgType, ORDER_SIZE, commandLine, flag, percentile, readAck, readTick, eventLoopTurn, stopSignal, wallClockMs, writeOrder, type Ack, type Order, type Tick } from "./codec.ts";

const {
  root,
  names: [id],
  flags: rest,
} = commandLine("usage: bun run examples/strategy.ts [busRoot] <strategyId> [--every N] [--duration ms]", 1);
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

const orderBytes = new Uint8Array(ORDER_SIZE);
const orderOut = new DataView(orderBytes.buffer);
const tick: Tick = { symbol: 0, seq: 0, bid: 0, ask: 0, sentMs: 0 };
const order: Order = { orderId: 0, symbol: 0, side: 1, qty: 1, price: 0, sentMs: 0 };
const ack: Ack = { orderId: 0, status: 0, orderSentMs: 0, ackedMs: 0 };
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
      if (msg.typeId !== MsgType.ACK || msg.length !== ACK_SIZE) continue;
      readAck(msg.data, msg.payloadOffset, ack);
      ackLatencyUs.push((wallClockMs() - ack.orderSentMs) * 1000);
      continue;
    }
    ticksSeen++;
    readTick(msg.data, msg.payloadOffset, tick);
    tickAgeUs.push((wallClockMs() - tick.sentMs) * 1000);
    if (!trades(tick.symbol) || ++relevant % every !== 0) continue;
    order.orderId++;
    order.symbol = tick.symbol;
    order.side = order.orderId % 2 === 0 ? 1 : 2;
    order.price = order.side === 1 ? tick.ask : tick.bid;
    order.sentMs = wallClockMs();
    writeOrder(orderOut, order);
    orders.append(MsgType.ORDER, orderBytes);
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
  process: "strategy", id, ticksSeen, orders: order.orderId, acks: ackLatencyUs.length,
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
