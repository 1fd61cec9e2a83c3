/** Outbound bridge: a named reader of a local queue publishing every record to a JetStream stream, exactly once. */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import { InvalidArgument, PayloadExceedsServerLimit, ReaderAlreadyActive, StreamMismatch } from "../errors.ts";
import { Queue } from "../queue/queue.ts";
import type { QueueReader } from "../queue/reader.ts";
import {
  Fatal, HEADER, checkCommon, runBridge, sourceIdentity, StreamLookup, subjectMatches,
  type Bridge, type BridgeCommonOptions, type Connection,
} from "./common.ts";

/** Options of {@link bridgeToJetStream}. */
export interface OutboundOptions extends BridgeCommonOptions {
  /** Directory of the local queue to publish. */
  queue: string;
  /** The bridge's reader name on the queue: its committed position is what has been acknowledged. */
  readerName: string;
  /** Subject every record is published on; the stream's subjects must capture it. One bridge per subject. */
  subject: string;
  /** Most publishes awaiting their ack at once (default 256). */
  window?: number | undefined;
  /** Overrides the queue incarnation identity derived from control.meta (see sourceIdentity). */
  sourceId?: string | undefined;
}

/** Counters of an outbound bridge (since it started). */
export interface OutboundStats {
  /** Records the stream acknowledged. */
  published: number;
  /** Records found already in the stream when a session started, and not published again. */
  alreadyInStream: number;
  /** Retries: sessions ended by an error (unreachable servers, timeouts, no quorum, a broken ack chain). */
  retries: number;
  /** Seq of the newest record known to be in the stream (-1: none). */
  lastSeq: number;
}

/** A running outbound bridge. */
export type OutboundBridge = Bridge<OutboundStats>;

/** How often (acknowledged records) the reader position is committed while publishing. */
const COMMIT_EVERY = 64;

/** One publish in flight: the record, the reader position after it, and how its ack went. */
interface Pending {
  seq: number;
  segment: number;
  offset: number;
  /** False for a record found in the stream already (it only holds the position). */
  published: boolean;
  /** 0 awaiting the ack, 1 acknowledged, 2 failed. */
  state: 0 | 1 | 2;
  error: unknown;
  settled: Promise<void>;
}

/**
 * Starts publishing the records of `queue` to `stream` on `subject`. Each message carries the
 * payload unchanged, the headers of {@link HEADER} and `Nats-Msg-Id: <source>:<seq>`. Up to
 * `window` publishes are in flight; the reader commits only up to the newest record whose ack and
 * every earlier one's arrived. Each session starts from the stream: the last message on
 * `subject`, when it comes from this queue incarnation, tells which records are in already. The
 * first publish of a session expects that message as the subject's last and every later one the
 * previous message id as the stream's last, so nothing lands after a lost message: the chain
 * breaks, and the next session resumes after what is really there. Unreachable servers, timeouts
 * and lost quorum are retried with backoff forever. Stops (done rejects) on StreamMismatch,
 * PayloadExceedsServerLimit and ReaderAlreadyActive.
 */
export function bridgeToJetStream(options: OutboundOptions): OutboundBridge {
  const dir = resolve(checkOptions(options).queue);
  const sourceId = options.sourceId ?? sourceIdentity(dir);
  const stats: OutboundStats = { published: 0, alreadyInStream: 0, retries: 0, lastSeq: -1 };
  const origin = `${hostname()}:${dir}`;

  const lookup = new StreamLookup(options.stream, dir);
  const session = async ({ nc, jsm }: Connection, stop: AbortSignal): Promise<boolean> => {
    const info = await lookup.info(jsm);
    const subjects = info.config.subjects ?? [options.stream];
    if (!subjects.some((p) => subjectMatches(p, options.subject))) {
      throw new Fatal(new StreamMismatch(dir, options.stream, `its subjects (${subjects.join(", ")}) do not capture ${options.subject}`));
    }
    const last = await jsm.streams.getMessage(options.stream, { last_by_subj: options.subject });
    const lastOfOurs = last !== null && last.header.get(HEADER.source) === sourceId ? Number(last.header.get(HEADER.seq)) : -1;
    if (lastOfOurs > stats.lastSeq) stats.lastSeq = lastOfOurs;
    using reader = openReader(dir, options.readerName);
    await publishSession(reader, jetstream(nc, { timeout: options.timeoutMs ?? 5000 }), nc, stop, last?.seq ?? 0, lastOfOurs);
    return true;
  };

  const publishSession = async (reader: QueueReader, js: JetStreamClient, nc: NatsConnection, stop: AbortSignal, subjectSeq: number, after: number): Promise<void> => {
    const window = options.window ?? 256;
    const maxPayload = nc.info?.max_payload ?? Infinity;
    const pending: Pending[] = [];
    let prevId: string | null = null;
    let failure: unknown = null;
    // The reader position after the newest record known to be in the stream, not yet committed.
    let commitSegment = -1;
    let commitOffset = 0;
    let uncommitted = 0;
    const advance = (segment: number, offset: number): void => {
      commitSegment = segment;
      commitOffset = offset;
      if (++uncommitted >= COMMIT_EVERY) commit();
    };
    const commit = (): void => {
      if (uncommitted > 0) reader.commitAt(commitSegment, commitOffset);
      uncommitted = 0;
    };
    // Pops the acknowledged head of the window; the first failure ends the session.
    const settleHead = async (): Promise<void> => {
      await pending[0]!.settled;
      while (pending.length > 0 && pending[0]!.state === 1) {
        const p = pending.shift()!;
        advance(p.segment, p.offset);
        if (p.published) stats.published++;
        if (p.seq > stats.lastSeq) stats.lastSeq = p.seq;
      }
      if (pending.length > 0 && pending[0]!.state === 2) failure = pending[0]!.error;
    };
    try {
      while (!stop.aborted && failure === null) {
        const m = reader.next();
        if (m === null) {
          if (pending.length > 0) await settleHead();
          else {
            commit();
            await reader.waitAsync({ timeoutMs: 250, signal: stop }).catch(() => false);
          }
          continue;
        }
        if (m.seq <= after) {
          // Already in the stream: the position moves past it once everything before it is acknowledged.
          stats.alreadyInStream++;
          if (pending.length === 0) advance(reader.positionSegment, reader.positionOffset);
          else pending.push(settledEntry(m.seq, reader));
          continue;
        }
        const id = `${sourceId}:${m.seq}`;
        const fields: [string, string][] = [
          [HEADER.type, String(m.typeId)],
          [HEADER.seq, String(m.seq)],
          [HEADER.timestamp, m.timestampNs.toString()],
          [HEADER.source, sourceId],
          [HEADER.origin, origin],
          ["Nats-Msg-Id", id],
          prevId === null ? ["Nats-Expected-Last-Subject-Sequence", String(subjectSeq)] : ["Nats-Expected-Last-Msg-Id", prevId],
        ];
        const h = natsHeaders();
        // The wire form: "NATS/1.0\r\n", "key: value\r\n" each, "\r\n" (all ASCII here but the origin path).
        let size = m.length + 12;
        for (const [k, v] of fields) {
          h.set(k, v);
          size += k.length + Buffer.byteLength(v) + 4;
        }
        if (size > maxPayload) {
          // Stop only once everything before it is in: a failure on the way is an ordinary retry.
          while (pending.length > 0 && failure === null) await settleHead();
          if (failure === null) throw new Fatal(new PayloadExceedsServerLimit(dir, m.seq, size, maxPayload));
          break;
        }
        prevId = id;
        pending.push(publishEntry(js.publish(options.subject, m.payload.slice(), { headers: h }), m.seq, reader));
        if (pending.length >= window) await settleHead();
      }
      while (pending.length > 0 && failure === null) await settleHead();
    } finally {
      // Whatever ends the session, nothing past the acknowledged prefix is committed, and the
      // publishes still out are let finish before the reader goes (the next session re-reads them).
      await Promise.all(pending.map((p) => p.settled));
      commit();
    }
    if (failure !== null) throw failure;
  };

  return runBridge(options, "chronicle-bridge-out", stats, session);
}

/** The bridge's reader; its name in use by another open reader (a second bridge) is Fatal. */
function openReader(dir: string, name: string): QueueReader {
  try {
    return Queue.openSubscriber(dir, name, { start: "resume" });
  } catch (e) {
    throw e instanceof ReaderAlreadyActive ? new Fatal(e) : e;
  }
}

function publishEntry(ack: Promise<PubAck>, seq: number, reader: QueueReader): Pending {
  const p: Pending = { seq, published: true, segment: reader.positionSegment, offset: reader.positionOffset, state: 0, error: null, settled: Promise.resolve() };
  p.settled = ack.then(
    () => void (p.state = 1),
    (e: unknown) => {
      p.state = 2;
      p.error = e;
    },
  );
  return p;
}

function settledEntry(seq: number, reader: QueueReader): Pending {
  return { seq, published: false, segment: reader.positionSegment, offset: reader.positionOffset, state: 1, error: null, settled: Promise.resolve() };
}

function checkOptions(options: OutboundOptions): OutboundOptions {
  checkCommon(options, "bridgeToJetStream");
  if (options.sourceId !== undefined && (typeof options.sourceId !== "string" || options.sourceId === "")) {
    throw new InvalidArgument(options.queue, `sourceId must be a non-empty string, got ${String(options.sourceId)}`);
  }
  if (typeof options.readerName !== "string" || options.readerName === "") throw new InvalidArgument(options.queue, "readerName must be a non-empty string");
  if (typeof options.subject !== "string" || !/^[^\s*>]+$/.test(options.subject)) throw new InvalidArgument(options.queue, `subject must be a NATS subject without wildcards, got ${String(options.subject)}`);
  const w = options.window;
  if (w !== undefined && (!Number.isInteger(w) || w < 1)) throw new InvalidArgument(options.queue, `window must be a positive integer, got ${String(w)}`);
  return options;
}
