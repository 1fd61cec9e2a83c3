import { PositionLost, Queue, type MessageView, type QueueReader } from "../../src/index.ts";
import { PollSet, POLLERR, POLLHUP } from "../../src/ffi/index.ts";
import { PayloadDecoder, shownText, shownValue } from "../decode.ts";
import { colour, intFlag, jsonLine, parseArgs, UsageError } from "../output.ts";
import { queueDir } from "../queueArg.ts";
import type { Command } from "../command.ts";

export const tailHelp = `usage: chronicle tail <queue> [-f] [--from <where>] [-n N] [--type <id>] [--limit N] [--json] [--decode <module>]

Prints records: seq, timestamp (ISO and ns), type, length and the payload (UTF-8 when it is
printable text, otherwise a hex + ASCII dump). Reads anonymously: creates no reader file.
  -f, --follow   keep waiting for new records (Ctrl-C to stop; exits when stdout is closed)
  --from where   where to start (default earliest), found by seek, not by reading up to it:
                   earliest | latest
                   <seq>      the record with that seq (warns when retention removed it, and
                              starts at the oldest record; says so when it is past the newest)
                   -N         the last N records
                   <time>     the first record at or after an ISO-8601 time, e.g.
                              2026-12-01T21:00:00Z or 2026-12-01T21:00:00.123456789+01:00
  -n N           the last N records, as tail -n (then exits, unless -f); same as --from -N
  --type id      only records of this type
  --limit N      stop after N records
  --json         one JSON object per line
  --decode mod   show payloads through a module: its decode(view) export (a value to print;
                 undefined: shown as usual), or the record schemas it exports (defineRecord),
                 matched by type id. A record it fails on is reported on stderr and shown as
                 usual; tail goes on and exits 1.
A payload holding a JSON object or array is shown as JSON (parsed), not as an escaped string.`;

/** Where `--from` / `-n` start the reader. */
type From = { kind: "earliest" | "latest" } | { kind: "seq"; seq: number } | { kind: "last"; n: number } | { kind: "time"; ns: bigint };

export async function tail(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ["--from", "-n", "--type", "--limit", "--decode"], ["-f", "--follow", "--json"], 1);
  const dir = queueDir(args.positional[0], "tail");
  if (args.flags.has("--from") && args.flags.has("-n")) throw new UsageError("tail: give --from or -n, not both");
  const from: From = args.flags.has("-n") ? { kind: "last", n: intFlag(args, "-n", 0) } : parseFrom(args.flags.get("--from") as string | undefined);
  const type = args.flags.has("--type") ? intFlag(args, "--type", 0) : -1;
  const limit = args.flags.has("--limit") ? intFlag(args, "--limit", 0) : Infinity;
  const follow = args.flags.has("-f") || args.flags.has("--follow");
  const format = args.flags.has("--json") ? toJson : toText;
  const decoder = args.flags.has("--decode") ? await PayloadDecoder.load(args.flags.get("--decode") as string) : null;

  const reader = Queue.openAnonymous(dir, { start: from.kind === "latest" ? "latest" : "earliest" });
  const out = new Output();
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    reader.close();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let printed = 0;
  try {
    position(reader, from);
    while (!stopped && printed < limit && !out.closed) {
      const m = reader.next();
      if (m === null) {
        if (!follow) break;
        await reader.waitAsync({ timeoutMs: 500 });
        // Nothing to write for a while: notice a reader of stdout that went away (tail -f | head).
        out.checkClosed();
        continue;
      }
      if (type >= 0 && m.typeId !== type) continue;
      await out.line(format(m, decoder));
      printed++;
    }
  } catch (e) {
    // Ctrl-C closes the reader under a pending call: that is the normal way out of -f.
    if (!stopped) throw e;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    reader.close();
  }
  return decoder !== null && decoder.failures > 0 ? 1 : 0;
}

/** The `--from` value: earliest, latest, a seq, -N or an ISO-8601 time. */
function parseFrom(v: string | undefined): From {
  if (v === undefined || v === "earliest" || v === "latest") return { kind: v ?? "earliest" };
  if (/^\d+$/.test(v) && Number.isSafeInteger(Number(v))) return { kind: "seq", seq: Number(v) };
  if (/^-\d+$/.test(v) && Number.isSafeInteger(-Number(v))) return { kind: "last", n: -Number(v) };
  const ns = isoToNs(v);
  if (ns !== null) return { kind: "time", ns };
  throw new UsageError(`--from must be earliest, latest or a seq, -N (the last N) or an ISO-8601 time, got ${v}`);
}

/** An ISO-8601 date or date-time to ns since the epoch, digits past the ms kept; null when it is not one. */
function isoToNs(v: string): bigint | null {
  const m = /^(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?)?$/.exec(v);
  if (m === null) return null;
  const [, date, time, fraction = "", zone] = m;
  // A date alone is UTC midnight (as Date.parse has it); a time without a zone is UTC too, not local.
  const offset = zone === undefined ? "Z" : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
  const ms = Date.parse(time === undefined ? `${date}T00:00:00Z` : `${date}T${time}${offset}`);
  if (Number.isNaN(ms) || ms < 0) return null;
  return BigInt(ms) * 1_000_000n + BigInt(fraction.padEnd(9, "0"));
}

/** Seeks the reader to `from`, saying on stderr when the start is not where it was asked for. */
function position(reader: QueueReader, from: From): void {
  switch (from.kind) {
    case "earliest":
    case "latest":
      return;
    case "last":
      reader.seekLast(from.n);
      return;
    case "time": {
      const landed = reader.seekTime(from.ns);
      if (landed.atHead) note(`no record at or after ${nsToIso(from.ns)} yet (the next record will be seq ${landed.seq})`);
      else warnIfBeforeRetained(reader.dir, from.ns);
      return;
    }
    case "seq": {
      let landed;
      try {
        landed = reader.seek(from.seq);
      } catch (e) {
        if (!(e instanceof PositionLost)) throw e;
        note(`seq ${from.seq} is older than the oldest retained record; starting at the oldest, seq ${e.oldestSeq}`);
        landed = reader.seek(e.oldestSeq);
      }
      if (landed.atHead && from.seq > landed.seq) note(`seq ${from.seq} is past the head (the next record will be seq ${landed.seq})`);
    }
  }
}

/** A time before the oldest record when retention removed older ones (its seq is not 0): say which record tail starts at. */
function warnIfBeforeRetained(dir: string, ns: bigint): void {
  using oldest = Queue.openAnonymous(dir);
  const m = oldest.next();
  if (m !== null && m.seq > 0 && ns < m.timestampNs) {
    note(`${nsToIso(ns)} is before the oldest retained record; starting at the oldest, seq ${m.seq} (${nsToIso(m.timestampNs)})`);
  }
}

function note(line: string): void {
  process.stderr.write(`chronicle tail: ${line}\n`);
}

/**
 * stdout as tail writes it: with backpressure, and closed for good when whoever reads it goes
 * away (EPIPE on a write, or POLLERR on the pipe while idle), which ends tail quietly.
 */
class Output {
  closed = false;
  private readonly poll = new PollSet([1], 0);

  constructor() {
    // EPIPE (or any other failure to write): nothing more can be shown, so tail ends.
    process.stdout.on("error", () => {
      this.closed = true;
      this.wake?.();
    });
  }

  /** Resolves a write waiting for "drain" (also called when stdout fails). */
  private wake: (() => void) | null = null;

  async line(text: string): Promise<void> {
    if (this.closed || process.stdout.write(`${text}\n`)) return;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      process.stdout.once("drain", resolve);
    });
    process.stdout.off("drain", this.wake!);
    this.wake = null;
  }

  /** The read end of a stdout pipe was closed. */
  checkClosed(): void {
    if (this.poll.poll(0) > 0 && (this.poll.revents(0) & (POLLERR | POLLHUP)) !== 0) this.closed = true;
  }
}

function isPrintable(p: Uint8Array): boolean {
  for (const b of p) if ((b < 0x20 && b !== 0x0a && b !== 0x09 && b !== 0x0d) || b === 0x7f) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(p);
    return true;
  } catch {
    return false;
  }
}

function hexDump(p: Uint8Array): string {
  const lines: string[] = [];
  for (let off = 0; off < p.length; off += 16) {
    const row = p.subarray(off, off + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    lines.push(`    ${off.toString(16).padStart(6, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

function nsToIso(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  return Number.isNaN(d.getTime()) ? "-" : d.toISOString();
}

/** How a payload is shown without a decoder: text when printable UTF-8, otherwise bytes. */
type PayloadForm = { text: string } | { hex: string; bytes: Uint8Array };

function payloadForm(m: MessageView): PayloadForm {
  const p = m.payload;
  return isPrintable(p) ? { text: new TextDecoder().decode(p) } : { hex: Buffer.from(p).toString("hex"), bytes: p };
}

function toText(m: MessageView, decoder: PayloadDecoder | null): string {
  const ns = m.timestampNs;
  const head = `${colour("bold", String(m.seq))}  ${nsToIso(ns)}  ${ns}  type ${m.typeId}  len ${m.length}`;
  const shown = shownValue(m, decoder);
  if (shown !== null) return `${head}  ${shownText(shown)}`;
  if (m.length === 0) return head;
  const form = payloadForm(m);
  return "text" in form ? `${head}  ${JSON.stringify(form.text)}` : `${head}\n${hexDump(form.bytes)}`;
}

function toJson(m: MessageView, decoder: PayloadDecoder | null): string {
  return jsonLine({
    seq: m.seq,
    timestampNs: m.timestampNs.toString(),
    time: nsToIso(m.timestampNs),
    typeId: m.typeId,
    length: m.length,
    ...(shownValue(m, decoder) ?? plainPayload(m)),
  });
}

function plainPayload(m: MessageView): { text: string } | { hex: string } {
  const form = payloadForm(m);
  return "text" in form ? { text: form.text } : { hex: form.hex };
}

/** `chronicle tail`. */
export const command: Command = { name: "tail", summary: "print records (-f to follow, --from a seq, time or -N, -n N, --decode)", usage: tailHelp, run: tail };
