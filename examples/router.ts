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
import { RecordMismatch, StrategyRouter, type MessageView } from "../src/index.ts";
import { Ack, BUSY_WAIT_MS, Order, commandLine, flag, idleUntil, eventLoopTurn, stopSignal, wallClockMs } from "./codec.ts";

const { root, flags: rest } = commandLine("usage: bun run examples/router.ts [busRoot] [--duration ms]", 0);
const stop = stopSignal(flag(rest, "duration", Infinity));
// The waits wake for discovery's inotify events; the rescan (default 1 s) only recovers missed ones.
const router = new StrategyRouter(root, "router");

// reply() takes a payload: the ack encoder writes into one reused buffer.
const ackBytes = new Uint8Array(Ack.size);
const ack = Ack.encoder().wrapBytes(ackBytes);
ack.status = 1;
const order = Order.view();
const perStrategy: Record<string, number> = {};
const events: string[] = [];
let routed = 0;
let malformed = 0;

while (!stop.stopped) {
  for (const ev of router.sync()) {
    const line = ev.kind === "unsupported" ? `${ev.kind} ${ev.strategy} v${ev.version}` : `${ev.kind} ${ev.strategy}`;
    events.push(line);
    console.log(JSON.stringify({ process: "router", event: ev.kind, strategy: ev.strategy, atMs: wallClockMs() }));
  }
  let worked = false;
  for (let m = router.next(); m !== null; m = router.next()) {
    worked = true;
    if (!wrapOrder(m.message)) continue;
    ack.orderId = order.orderId;
    ack.orderSentMs = order.sentMs;
    ack.ackedMs = wallClockMs();
    router.reply(m.strategy, Ack.typeId, ackBytes);
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
console.log(JSON.stringify({ process: "router", routed, malformed, perStrategy, events, attached }));
process.exit(0);

/** Points `order` at an order; false for other records, and for an order of an impossible length (counted, not fatal). */
function wrapOrder(m: MessageView): boolean {
  try {
    return order.wrap(m);
  } catch (e) {
    if (!(e instanceof RecordMismatch)) throw e;
    malformed++;
    return false;
  }
}
