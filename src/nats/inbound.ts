/** Inbound bridge: a durable JetStream consumer appending every message to a local queue, exactly once. */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { AckPolicy, DeliverPolicy, jetstream, type JsMsg } from "@nats-io/jetstream";
import { BridgeBindingMismatch, InvalidArgument, PayloadTooLarge } from "../errors.ts";
import { Queue } from "../queue/queue.ts";
import type { QueueWriter, WriterOptions } from "../queue/writer.ts";
import { MAX_TYPE_ID } from "../queue/layout/index.ts";
import { Fatal, HEADER, checkCommon, isApiError, runBridge, StreamLookup, type Bridge, type BridgeCommonOptions, type Connection } from "./common.ts";

/** File in the inbound queue's directory naming the stream it replicates (side data, see docs/DISTRIBUTED.md). */
export const BINDING_FILE = "jetstream-binding.json";

/** Options of {@link bridgeFromJetStream}. */
export interface InboundOptions extends BridgeCommonOptions {
  /** Name of the bridge's durable consumer on the stream. */
  durable: string;
  /** Directory of the local queue to append to (created if needed); the bridge is its only writer. */
  queue: string;
  /** Only messages on this subject (may have wildcards); default: the whole stream. */
  filterSubject?: string | undefined;
  /**
   * Messages without the outbound bridge's headers: "append" (default) with `foreignTypeId` and
   * the time JetStream stored them; "skip" counts them in `stats.foreign` and acks them.
   */
  foreign?: "append" | "skip" | undefined;
  /** Type id for appended foreign messages (default 0). */
  foreignTypeId?: number | undefined;
  /** Messages pulled per request (default 256). */
  batch?: number | undefined;
  /** Writer options used if the queue is created (segment size, mode...). */
  writer?: WriterOptions | undefined;
}

/** Counters of an inbound bridge (since it started). */
export interface InboundStats {
  /** Messages appended to the local queue. */
  appended: number;
  /** Redeliveries of messages appended already: acked, not appended again. */
  duplicates: number;
  /** Foreign messages (no bridge headers), appended or skipped. */
  foreign: number;
  /** Retries: sessions ended by an error (connection, JetStream, a lost delivery, missed heartbeats). */
  retries: number;
  /** Stream sequence of the newest message in the local queue (0: none). */
  lastStreamSeq: number;
}

/** A running inbound bridge. */
export type InboundBridge = Bridge<InboundStats>;

/** Pull requests expire after this (ms); the client expects a heartbeat every half of it. */
const PULL_EXPIRES_MS = 2000;

/** What the binding file holds: the stream, and its creation time (a re-created stream is another one). */
interface Binding {
  stream: string;
  created: string;
}

/**
 * Starts appending the messages of `stream` to the local `queue`, keeping payload, type id and
 * timestamp, and giving each record the message's stream sequence as its seq
 * ({@link QueueWriter.appendWithSeq}): the position is stored with the record, in the same
 * atomic commit. Every session (start, and after any error) re-creates the durable consumer at
 * the sequence after the queue's last record, checks that deliveries arrive without a gap, and
 * acks each message after its append; redeliveries of appended messages are acked and dropped.
 * Retries with backoff forever on connection and JetStream errors. Stops (done rejects) on
 * StreamMismatch, BridgeBindingMismatch and PayloadTooLarge (a message the queue's segments
 * cannot hold: give the queue larger segments through `writer`).
 */
export function bridgeFromJetStream(options: InboundOptions): InboundBridge {
  const dir = resolve(checkOptions(options).queue);
  const writer = Queue.openPublisher(dir, options.writer);
  const stats: InboundStats = { appended: 0, duplicates: 0, foreign: 0, retries: 0, lastStreamSeq: 0 };
  let stopIterator: (() => void) | null = null;

  const lookup = new StreamLookup(options.stream, dir);
  const session = async ({ nc, jsm }: Connection, stop: AbortSignal): Promise<boolean> => {
    const info = await lookup.info(jsm);
    bind(dir, writer, { stream: options.stream, created: info.created });
    let last = Math.max(0, writer.nextSeq - 1);
    stats.lastStreamSeq = last;
    try {
      await jsm.consumers.delete(options.stream, options.durable);
    } catch (e) {
      if (!isApiError(e, 10014)) throw e;
    }
    await jsm.consumers.add(options.stream, {
      durable_name: options.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: last + 1,
      ...(options.filterSubject !== undefined ? { filter_subject: options.filterSubject } : {}),
    });
    const consumer = await jetstream(nc, { timeout: options.timeoutMs ?? 5000 }).consumers.get(options.stream, options.durable);
    // Short pull expiry: heartbeats every few seconds, so a lost consumer leader is noticed soon.
    const messages = await consumer.consume({ max_messages: options.batch ?? 256, expires: PULL_EXPIRES_MS });
    stopIterator = () => messages.stop();
    if (stop.aborted) messages.stop();
    let stalled: string | null = null;
    void (async () => {
      for await (const s of messages.status()) {
        if ((s.type === "heartbeats_missed" && s.count >= 2) || s.type === "consumer_deleted" || s.type === "consumer_not_found") {
          stalled = s.type;
          messages.stop();
        }
      }
    })();
    let delivery = 0;
    try {
      for await (const m of messages) {
        // A delivery that never reached us could be a message after `last`: start again from the queue.
        if (m.info.deliverySequence !== delivery + 1) throw new Error(`consumer delivery ${m.info.deliverySequence} follows ${delivery}: a delivery was lost`);
        delivery = m.info.deliverySequence;
        if (m.seq <= last) {
          stats.duplicates++;
          m.ack();
          continue;
        }
        if (appendMessage(writer, m, options, stats)) stats.appended++;
        last = m.seq;
        stats.lastStreamSeq = last;
        m.ack();
      }
    } finally {
      stopIterator = null;
      messages.stop();
    }
    if (!stop.aborted) throw new Error(`the consumer's messages stopped (${stalled ?? "iterator ended"})`);
    return true;
  };

  try {
    return runBridge(options, "chronicle-bridge-in", stats, session, { stopping: () => stopIterator?.(), closed: () => writer.close() });
  } catch (e) {
    writer.close();
    throw e;
  }
}

/**
 * Appends `m` with the seq of its stream sequence; false for a skipped foreign message. A message
 * larger than the queue's segments hold stops the bridge (PayloadTooLarge, Fatal): no retry fixes it.
 */
function appendMessage(writer: QueueWriter, m: JsMsg, options: InboundOptions, stats: InboundStats): boolean {
  try {
    return appendOne(writer, m, options, stats);
  } catch (e) {
    throw e instanceof PayloadTooLarge ? new Fatal(e) : e;
  }
}

function appendOne(writer: QueueWriter, m: JsMsg, options: InboundOptions, stats: InboundStats): boolean {
  const h = m.headers;
  const type = h?.get(HEADER.type) ?? "";
  const ts = h?.get(HEADER.timestamp) ?? "";
  const typeId = /^\d{1,5}$/.test(type) ? Number(type) : -1;
  if (typeId < 0 || typeId > MAX_TYPE_ID || !/^\d{1,20}$/.test(ts) || BigInt(ts) >= 1n << 64n) {
    stats.foreign++;
    if (options.foreign === "skip") return false;
    writer.appendWithSeq(m.seq, options.foreignTypeId ?? 0, m.data, m.timestampNanos);
    return true;
  }
  writer.appendWithSeq(m.seq, typeId, m.data, BigInt(ts));
  return true;
}

/**
 * Checks (or, for an empty queue, writes) the binding: a queue with records but no binding, or
 * bound to another stream or to an earlier stream of the same name, is refused.
 */
function bind(dir: string, writer: QueueWriter, binding: Binding): void {
  const path = join(dir, BINDING_FILE);
  let existing: Binding | null = null;
  try {
    existing = JSON.parse(readFileSync(path, "utf8")) as Binding;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new Fatal(new BridgeBindingMismatch(path, `unreadable binding file: ${String(e)}`));
  }
  if (existing === null) {
    if (writer.nextSeq > 0) throw new Fatal(new BridgeBindingMismatch(dir, "the queue holds records the inbound bridge did not write; give it a new queue"));
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify(binding));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    return;
  }
  if (existing.stream !== binding.stream) throw new Fatal(new BridgeBindingMismatch(path, `the queue replicates stream ${existing.stream}, not ${binding.stream}`));
  if (existing.created !== binding.created) {
    throw new Fatal(new BridgeBindingMismatch(path, `stream ${binding.stream} was re-created (created ${binding.created}, the queue replicates the one created ${existing.created}); give it a new queue`));
  }
}

function checkOptions(options: InboundOptions): InboundOptions {
  checkCommon(options, "bridgeFromJetStream");
  if (typeof options.durable !== "string" || !/^[^\s.*>]+$/.test(options.durable)) throw new InvalidArgument(options.queue, `durable must be a consumer name (no spaces, ".", "*" or ">"), got ${String(options.durable)}`);
  if (options.foreign !== undefined && options.foreign !== "append" && options.foreign !== "skip") throw new InvalidArgument(options.queue, `foreign must be "append" or "skip", got ${String(options.foreign)}`);
  const t = options.foreignTypeId;
  if (t !== undefined && (!Number.isInteger(t) || t < 0 || t > MAX_TYPE_ID)) throw new InvalidArgument(options.queue, `foreignTypeId must be an integer in [0, ${MAX_TYPE_ID}], got ${String(t)}`);
  const b = options.batch;
  if (b !== undefined && (!Number.isInteger(b) || b < 1)) throw new InvalidArgument(options.queue, `batch must be a positive integer, got ${String(b)}`);
  return options;
}
