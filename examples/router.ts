/**
 * The router: discovers strategies at run time, merges their orders (fan-in by timestamp) and
 * acknowledges each one on the strategy's orders_in.
 *
 *   bun run examples/router.ts [busRoot] [--duration ms]
 *
 * busRoot defaults to <system temp dir>/chronicle-bus.
 *
 * Prints each discovery event as a JSON line (stamped with the wall-clock ms at which it was
 * applied), and one JSON summary line on exit.
 */
import { StrategyRouter } from "../src/index.ts";
import {
  ACK_SIZE, BUSY_WAIT_MS, MsgType, ORDER_SIZE, commandLine, flag, idleUntil, readOrder, eventLoopTurn, stopSignal, wallClockMs, writeAck, type Ack, type Order,
} from "./codec.ts";

const { root, flags: rest } = commandLine("usage: bun run examples/router.ts [busRoot] [--duration ms]", 0);
const stop = stopSignal(flag(rest, "duration", Infinity));
// The waits wake for discovery's inotify events; the rescan (default 1 s) only recovers missed ones.
const router = new StrategyRouter(root, "router");

const ackBytes = new Uint8Array(ACK_SIZE);
const ackOut = new DataView(ackBytes.buffer);
const order: Order = { orderId: 0, symbol: 0, side: 0, qty: 0, price: 0, sentMs: 0 };
const ack: Ack = { orderId: 0, status: 1, orderSentMs: 0, ackedMs: 0 };
const perStrategy: Record<string, number> = {};
const events: string[] = [];
let routed = 0;

while (!stop.stopped) {
  for (const ev of router.sync()) {
    const line = ev.kind === "unsupported" ? `${ev.kind} ${ev.strategy} v${ev.version}` : `${ev.kind} ${ev.strategy}`;
    events.push(line);
    console.log(JSON.stringify({ process: "router", event: ev.kind, strategy: ev.strategy, atMs: wallClockMs() }));
  }
  let worked = false;
  for (let m = router.next(); m !== null; m = router.next()) {
    worked = true;
    if (m.message.typeId !== MsgType.ORDER || m.message.length !== ORDER_SIZE) continue;
    readOrder(m.message.data, m.message.payloadOffset, order);
    ack.orderId = order.orderId;
    ack.orderSentMs = order.sentMs;
    ack.ackedMs = wallClockMs();
    writeAck(ackOut, ack);
    router.reply(m.strategy, MsgType.ACK, ackBytes);
    perStrategy[m.strategy] = (perStrategy[m.strategy] ?? 0) + 1;
    routed++;
  }
  if (worked) router.commitAll();
  // Waits return for an order or a discovery change. Busy: the blocking wait, kept short (see
  // BUSY_WAIT_MS). Idle: waitAsync, which sleeps with no periodic wake-up but discovery's rescan.
  else if (!router.wait(BUSY_WAIT_MS)) {
    await idleUntil((signal) => router.waitAsync(Infinity, signal), stop);
    continue;
  }
  await eventLoopTurn();
}
const attached = router.strategies;
router.close();
console.log(JSON.stringify({ process: "router", routed, perStrategy, events, attached }));
process.exit(0);
