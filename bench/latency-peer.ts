/**
 * The other process of bench/latency.ts.
 *
 *   bun bench/latency-peer.ts echo <transport> <count> <arg...>
 *   bun bench/latency-peer.ts send <transport> <count> <arg...>
 *
 * "echo" answers each 64-byte message with the same bytes; "send" sends `count` messages about
 * 1 ms apart, each stamped with CLOCK_MONOTONIC at the moment of sending (bytes 0..7, float64).
 * Transports: spin | hybrid | async (chronicle; args: inbound queue, outbound queue),
 * uds (arg: socket path), ipc (Bun.spawn IPC, no args).
 */
import { monotonicNs } from "../src/ffi/index.ts";
import { Queue, type QueueReader } from "../src/index.ts";

const [role, transport, countArg, ...rest] = process.argv.slice(2);
const count = Number(countArg);
const PAYLOAD = 64;
const message = new Uint8Array(PAYLOAD);
const stamp = new DataView(message.buffer);

function stamped(): Uint8Array {
  stamp.setFloat64(0, monotonicNs(), true);
  return message;
}

async function chronicle(): Promise<void> {
  const [inbound, outbound] = rest;
  const strategy = transport === "spin" ? "spin" : "hybrid";
  using writer = Queue.openPublisher(outbound);
  if (role === "send") {
    console.log("ready");
    for (let i = 0; i < count; i++) {
      await Bun.sleep(1);
      writer.append(1, stamped());
    }
    return;
  }
  using reader: QueueReader = Queue.openSubscriber(inbound, "peer", { start: "latest", openTimeoutMs: 10_000, wait: { strategy } });
  console.log("ready");
  for (let i = 0; i < count; ) {
    const m = reader.next();
    if (m === null) {
      if (transport === "async") await reader.waitAsync({ timeoutMs: 10_000 });
      else reader.wait(10_000);
      continue;
    }
    writer.append(1, m.payload);
    i++;
  }
}

async function uds(): Promise<void> {
  let echoed = 0;
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const socket = await Bun.connect({
    unix: rest[0],
    socket: {
      data(s, data) {
        if (role !== "echo") return;
        s.write(data);
        echoed += data.length / PAYLOAD;
        if (echoed >= count) resolve();
      },
    },
  });
  socket.setNoDelay?.(true);
  console.log("ready");
  if (role === "send") {
    for (let i = 0; i < count; i++) {
      await Bun.sleep(1);
      socket.write(stamped());
    }
    resolve();
  }
  await done;
  socket.end();
}

async function ipc(): Promise<void> {
  const { promise: done, resolve } = Promise.withResolvers<void>();
  let echoed = 0;
  process.on("message", (m) => {
    if (role !== "echo") return;
    process.send!(m);
    if (++echoed >= count) resolve();
  });
  process.send!("ready");
  if (role === "send") {
    for (let i = 0; i < count; i++) {
      await Bun.sleep(1);
      process.send!(stamped());
    }
    resolve();
  }
  await done;
  process.disconnect?.();
}

if (transport === "uds") await uds();
else if (transport === "ipc") await ipc();
else await chronicle();
process.exit(0);
