/**
 * Market-data feed: publishes synthetic ticks for N symbols into <root>/market/main.
 *
 *   bun run examples/feed.ts [busRoot] [--symbols 16] [--rate 20000] [--duration ms]
 *
 * busRoot defaults to <system temp dir>/chronicle-bus.
 *
 * Prints one JSON summary line on exit (SIGTERM/SIGINT or after --duration).
 */
import { BusLayout, Queue } from "../src/index.ts";
import { Tick, commandLine, flag, stopSignal, wallClockMs } from "./codec.ts";

const { root, flags: rest } = commandLine("usage: bun run examples/feed.ts [busRoot] [--symbols N] [--rate ticksPerSecond] [--duration ms]", 0);
const symbols = flag(rest, "symbols", 16);
const rate = flag(rest, "rate", 20_000);
const stop = stopSignal(flag(rest, "duration", Infinity));

const writer = Queue.openPublisher(new BusLayout(root).feed(), { segmentSize: 1 << 20, autoCleanup: true, readerTtlMs: 5_000 });
const tick = Tick.encoder();
const prices = Float64Array.from({ length: symbols }, (_, i) => 100 + i);
const perMs = rate / 1000;
const started = performance.now();
let published = 0;

while (!stop.stopped) {
  // Publish what the rate allows so far, then yield to the event loop for a millisecond.
  const due = Math.floor((performance.now() - started) * perMs);
  for (; published < due; published++) {
    const symbol = published % symbols;
    const price = prices[symbol]! + (Math.random() - 0.5) * 0.01;
    prices[symbol] = price;
    // The tick is written in place in the queue's mapping: no buffer, no copy, no allocation.
    tick.claim(writer);
    tick.symbol = symbol;
    tick.seq = published;
    tick.bid = price - 0.01;
    tick.ask = price + 0.01;
    tick.sentMs = wallClockMs();
    tick.commit();
  }
  await Promise.race([Bun.sleep(1), stop.promise]);
}
writer.close();
console.log(JSON.stringify({ process: "feed", ticks: published }));
process.exit(0);
