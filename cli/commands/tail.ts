import { Queue, type MessageView } from "../../src/index.ts";
import { colour, intFlag, parseArgs, UsageError } from "../output.ts";
import { queueDir } from "../queueArg.ts";
import type { Command } from "../command.ts";

export const tailHelp = `usage: chronicle tail <queue> [-f] [--from earliest|latest|<seq>] [--type <id>] [--limit N] [--json]

Prints records: seq, timestamp (ISO and ns), type, length and the payload (UTF-8 when it is
printable text, otherwise a hex + ASCII dump). Reads anonymously: creates no reader file.
  -f, --follow   keep waiting for new records (Ctrl-C to stop)
  --from         where to start (default earliest)
  --type id      only records of this type
  --limit N      stop after N records
  --json         one JSON object per line`;

export async function tail(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ["--from", "--type", "--limit"], ["-f", "--follow", "--json"], 1);
  const dir = queueDir(args.positional[0], "tail");
  const from = (args.flags.get("--from") as string | undefined) ?? "earliest";
  let fromSeq = -1;
  if (from !== "earliest" && from !== "latest") {
    fromSeq = Number(from);
    if (!Number.isInteger(fromSeq) || fromSeq < 0) throw new UsageError(`--from must be earliest, latest or a seq, got ${from}`);
  }
  const type = args.flags.has("--type") ? intFlag(args, "--type", 0) : -1;
  const limit = args.flags.has("--limit") ? intFlag(args, "--limit", 0) : Infinity;
  const follow = args.flags.has("-f") || args.flags.has("--follow");
  const asJson = args.flags.has("--json");

  const reader = Queue.openAnonymous(dir, { start: from === "latest" ? "latest" : "earliest" });
  let stopped = false;
  const stop = (): void => {
    stopped = true;
    reader.close();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let printed = 0;
  try {
    while (!stopped && printed < limit) {
      const m = reader.next();
      if (m === null) {
        if (!follow) break;
        await reader.waitAsync({ timeoutMs: 500 });
        continue;
      }
      if (m.seq < fromSeq || (type >= 0 && m.typeId !== type)) continue;
      console.log(asJson ? toJson(m) : toText(m));
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
  return 0;
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

function iso(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  return Number.isNaN(d.getTime()) ? "-" : d.toISOString();
}

function toText(m: MessageView): string {
  const ns = m.timestampNs;
  const p = m.payload;
  const head = `${colour("bold", String(m.seq))}  ${iso(ns)}  ${ns}  type ${m.typeId}  len ${m.length}`;
  if (p.length === 0) return head;
  return isPrintable(p) ? `${head}  ${JSON.stringify(new TextDecoder().decode(p))}` : `${head}\n${hexDump(p)}`;
}

function toJson(m: MessageView): string {
  const p = m.payload;
  const text = isPrintable(p) ? new TextDecoder().decode(p) : null;
  return JSON.stringify({
    seq: m.seq,
    timestampNs: m.timestampNs.toString(),
    time: iso(m.timestampNs),
    typeId: m.typeId,
    length: m.length,
    ...(text !== null ? { text } : { hex: Buffer.from(p).toString("hex") }),
  });
}

/** `chronicle tail`. */
export const command: Command = { name: "tail", summary: "print records (-f to follow)", usage: tailHelp, run: tail };
