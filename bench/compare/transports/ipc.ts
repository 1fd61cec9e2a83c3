/** Bun.spawn IPC between parent (A) and child (B), "advanced" (structured clone) serialization. */
import type { Endpoint, FrameHandler, Guard, Transport } from "../types.ts";
import { Inbox } from "./inbox.ts";

function endpoint(inbox: Inbox, send: (frame: Uint8Array) => void): Endpoint {
  return {
    send,
    receive: (onFrame: FrameHandler, guard: Guard) => inbox.receive(onFrame, guard),
    close() {},
  };
}

function deliverTo(inbox: Inbox): (message: unknown) => void {
  return (message) => {
    if (message instanceof Uint8Array) inbox.deliver(message, 0, message.length);
    else inbox.fail(new Error(`unexpected IPC message ${String(message)}`));
  };
}

export const ipc: Transport = {
  id: "ipc",
  label: "Bun.spawn IPC",
  short: "Bun IPC",
  guarantees:
    "Parent and child only; messages are copied (structured clone); nothing persisted, no replay, one reader. " +
    "No backpressure: a fast sender buffers without bound in its own memory.",
  settings: "Bun IPC: Bun.spawn's ipc channel, advanced (structured clone) serialization",
  async openA(_spec, spawnPeer) {
    const inbox = new Inbox();
    const peer = spawnPeer({ serialization: "advanced", ipc: deliverTo(inbox) });
    return endpoint(inbox, (frame) => peer.send(frame));
  },
  async openB() {
    if (process.send === undefined) throw new Error("process B has no IPC channel");
    const inbox = new Inbox();
    process.on("message", deliverTo(inbox));
    return endpoint(inbox, (frame) => void process.send!(frame));
  },
};
