#!/usr/bin/env bun
/** chronicle: command-line tool for queues on disk (inspect, tail, doctor, bench, bridge). */
import { ChronicleError } from "../src/index.ts";
import { bench, benchHelp } from "./commands/bench.ts";
import { bridge, bridgeHelp } from "./commands/bridge.ts";
import { doctor, doctorHelp } from "./commands/doctor.ts";
import { inspect, inspectHelp } from "./commands/inspect.ts";
import { tail, tailHelp } from "./commands/tail.ts";
import { UsageError } from "./output.ts";

const commands: Record<string, { run: (argv: string[]) => number | Promise<number>; help: string }> = {
  inspect: { run: inspect, help: inspectHelp },
  tail: { run: tail, help: tailHelp },
  doctor: { run: doctor, help: doctorHelp },
  bench: { run: bench, help: benchHelp },
  bridge: { run: bridge, help: bridgeHelp },
};

const usage = `usage: chronicle <command> [options]

commands:
  inspect <queue>   state of one queue: writer, head, segments, readers
  tail <queue>      print records (-f to follow)
  doctor <root>     find problems in every queue under a directory (--fix for safe repairs)
  bench             local throughput and latency smoke test
  bridge out|in     replicate a queue through NATS JetStream (exactly once)

Every command takes --help and --json.`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    // A bad invocation: the usage is the error message, on stderr.
    console.error(usage);
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(usage);
    return 0;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command "${name}" (try --help)`);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.help);
    return 0;
  }
  return command.run(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`chronicle: ${e.message}`);
    process.exitCode = 2;
  } else if (e instanceof ChronicleError) {
    console.error(`chronicle: ${e.message}`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
