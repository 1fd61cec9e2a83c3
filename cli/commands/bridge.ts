import { resolve } from "node:path";
import { intFlag, parseArgs, UsageError } from "../output.ts";
import { queueDir } from "../queueArg.ts";
import type { Command } from "../command.ts";

export const bridgeHelp = `usage: chronicle bridge out <queue> --servers URL[,URL...] --stream NAME --subject SUBJECT [--reader NAME] [--window N]
       chronicle bridge in <queue> --servers URL[,URL...] --stream NAME --durable NAME [--filter SUBJECT] [--foreign append|skip]

Replicates through NATS JetStream, exactly once (see docs/DISTRIBUTED.md); runs until Ctrl-C.
  out   publishes every record of <queue> on SUBJECT (reader name default "jetstream-bridge")
  in    appends every message of the stream to <queue> (created if needed) through a durable consumer
Needs the packages @nats-io/jetstream and @nats-io/transport-node. Waits (retrying) while the
servers are unreachable; prints "ready" once started and a summary line when stopped.`;

export async function bridge(argv: string[]): Promise<number> {
  const [direction, ...rest] = argv;
  if (direction !== "out" && direction !== "in") throw new UsageError(`bridge: say "out" or "in", got ${String(direction)} (try --help)`);
  const args = parseArgs(rest, ["--servers", "--stream", "--subject", "--reader", "--window", "--durable", "--filter", "--foreign"], [], 1);
  const flag = (name: string): string => {
    const v = args.flags.get(name);
    if (typeof v !== "string") throw new UsageError(`bridge ${direction}: ${name} is required`);
    return v;
  };
  const servers = flag("--servers").split(",");
  const stream = flag("--stream");
  // Loaded here: the other commands never load the NATS client.
  let nats: typeof import("../../src/nats/index.ts");
  try {
    nats = await import("../../src/nats/index.ts");
  } catch (e) {
    throw new UsageError(`bridge needs the packages @nats-io/jetstream and @nats-io/transport-node (bun add @nats-io/jetstream @nats-io/transport-node): ${String(e)}`);
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (direction === "out") {
      const b = nats.bridgeToJetStream({
        queue: queueDir(args.positional[0], "bridge out"),
        readerName: (args.flags.get("--reader") as string | undefined) ?? "jetstream-bridge",
        servers, stream, subject: flag("--subject"), window: intFlag(args, "--window", 256, 1), signal: stop.signal,
      });
      console.log("ready");
      await b.done;
      console.log(`stopped: published ${b.stats.published}, already in the stream ${b.stats.alreadyInStream}, retries ${b.stats.retries}, last seq ${b.stats.lastSeq}`);
    } else {
      const arg = args.positional[0];
      if (arg === undefined) throw new UsageError("bridge in: missing <queue> argument");
      const foreign = args.flags.get("--foreign");
      if (foreign !== undefined && foreign !== "append" && foreign !== "skip") throw new UsageError(`--foreign must be append or skip, got ${String(foreign)}`);
      const filter = args.flags.get("--filter");
      const b = nats.bridgeFromJetStream({
        queue: resolve(arg), servers, stream, durable: flag("--durable"), signal: stop.signal,
        ...(typeof filter === "string" ? { filterSubject: filter } : {}),
        ...(foreign !== undefined ? { foreign } : {}),
      });
      console.log("ready");
      await b.done;
      console.log(`stopped: appended ${b.stats.appended}, duplicates ${b.stats.duplicates}, foreign ${b.stats.foreign}, retries ${b.stats.retries}, last stream seq ${b.stats.lastStreamSeq}`);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return 0;
}

/** `chronicle bridge`. */
export const command: Command = { name: "bridge", summary: "replicate a queue through NATS JetStream, exactly once (out | in)", usage: bridgeHelp, run: bridge };
