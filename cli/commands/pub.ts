import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Queue, WriterAlreadyActive, type QueueWriter } from "../../src/index.ts";
import { MAX_TYPE_ID } from "../../src/queue/layout/index.ts";
import { intFlag, parseArgs, UsageError } from "../output.ts";
import { queueDir } from "../queueArg.ts";
import type { Command } from "../command.ts";

export const pubHelp = `usage: chronicle pub <queue> [--type N] [--json | --hex | --file F] [--create] [message...]

Appends records, for testing by hand (like nats pub or redis-cli XADD): one per message
argument, or with no message one per line of stdin (empty lines skipped). Prints the seqs.
Opens the queue as its writer, so it refuses a queue whose writer is alive in another process
(publish through that writer instead).
  --type N     type id of the records (default 1, at most ${MAX_TYPE_ID})
  --json       each message is JSON: refused unless it parses; stored as given, UTF-8
  --hex        each message is bytes in hex ("68 69" or "6869")
  --file F     one record holding the bytes of file F (no messages then)
  --create     create the queue (format 2, default segment size) when <queue> is not one yet;
               without it, a missing queue is an error`;

type Encoding = "text" | "json" | "hex";

export async function pub(argv: string[]): Promise<number> {
  const args = parseArgs(argv, ["--type", "--file"], ["--json", "--hex", "--create"], Infinity);
  const [target, ...messages] = args.positional;
  const create = args.flags.has("--create");
  if (target === undefined) throw new UsageError("pub: missing <queue> argument");
  const dir = create && !isQueue(target) ? resolve(target) : queueDir(target, "pub");
  const encoding: Encoding = args.flags.has("--json") ? "json" : args.flags.has("--hex") ? "hex" : "text";
  const file = args.flags.get("--file") as string | undefined;
  if (file !== undefined && (encoding !== "text" || messages.length > 0)) throw new UsageError("pub: --file takes no messages and no --json or --hex");
  const typeId = intFlag(args, "--type", 1);
  if (typeId > MAX_TYPE_ID) throw new UsageError(`--type must be at most ${MAX_TYPE_ID}, got ${typeId}`);

  // Every payload is checked before the queue is opened: a bad message writes nothing.
  const payloads = file !== undefined ? [readFile(file)] : messages.map((m) => encode(m, encoding));
  using writer = openWriter(dir);
  if (writer === null) return 1;
  const seqs = payloads.map((p) => writer.append(typeId, p));
  if (file === undefined && messages.length === 0) {
    for await (const line of stdinLines()) {
      if (line !== "") seqs.push(writer.append(typeId, encode(line, encoding)));
    }
  }
  console.log(seqs.length === 0 ? "published nothing" : seqs.length === 1 ? `seq ${seqs[0]}` : `seq ${seqs[0]}..${seqs[seqs.length - 1]} (${seqs.length} records)`);
  return 0;
}

function isQueue(arg: string): boolean {
  try {
    queueDir(arg, "pub");
    return true;
  } catch {
    return false;
  }
}

/** The queue's writer, or null (said on stderr) when its writer is alive in another process. */
function openWriter(dir: string): QueueWriter | null {
  try {
    return Queue.openPublisher(dir, { preallocate: false });
  } catch (e) {
    if (!(e instanceof WriterAlreadyActive)) throw e;
    const pid = e.owner.split(" ")[0];
    console.error(`chronicle pub: the queue's writer is alive${pid ? ` (pid ${pid})` : ""}; a queue has one writer: publish through it, or stop it first (${dir})`);
    return null;
  }
}

function encode(message: string, encoding: Encoding): Uint8Array {
  if (encoding === "json") {
    try {
      JSON.parse(message);
    } catch (e) {
      throw new UsageError(`--json: not JSON: ${JSON.stringify(message)} (${(e as Error).message})`);
    }
  }
  if (encoding === "hex") {
    const hex = message.replace(/\s+/g, "");
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new UsageError(`--hex: not pairs of hex digits: ${JSON.stringify(message)}`);
    return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));
  }
  return new TextEncoder().encode(message);
}

function readFile(path: string): Uint8Array {
  if (!existsSync(path)) throw new UsageError(`--file: ${path} does not exist`);
  return new Uint8Array(readFileSync(path));
}

/** stdin line by line (without the line ends), as it arrives. */
async function* stdinLines(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of Bun.stdin.stream()) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) yield line.endsWith("\r") ? line.slice(0, -1) : line;
  }
  buffered += decoder.decode();
  if (buffered !== "") yield buffered;
}

/** `chronicle pub`. */
export const command: Command = { name: "pub", summary: "append records from arguments or stdin lines (testing by hand)", usage: pubHelp, run: pub };
