#!/usr/bin/env bun
/** chronicle: command-line tool for queues on disk. The commands are the modules in cli/commands/. */
import pkg from "../package.json" with { type: "json" };
import { ChronicleError } from "../src/index.ts";
import type { Command } from "./command.ts";
import { UsageError } from "./output.ts";
import { loadCommands, suggestions } from "./registry.ts";

function usage(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length), "help <command>".length);
  const rows = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: chronicle <command> [options]

commands:
${rows.join("\n")}
  ${"help <command>".padEnd(width)}  the help of one command (also: chronicle <command> --help)

chronicle --version prints the version. Commands take --help, most take --json.`;
}

function find(commands: Command[], name: string): Command {
  const command = commands.find((c) => c.name === name);
  if (command !== undefined) return command;
  const near = suggestions(name, commands.map((c) => c.name));
  const hint = near.length > 0 ? `did you mean ${near.map((n) => `"${n}"`).join(" or ")}? ` : "";
  throw new UsageError(`unknown command "${name}" (${hint}try --help)`);
}

async function main(argv: string[]): Promise<number> {
  const commands = await loadCommands();
  const [name, ...rest] = argv;
  if (name === undefined) {
    // A bad invocation: the usage is the error message, on stderr.
    console.error(usage(commands));
    return 2;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    console.log(`chronicle ${pkg.version}`);
    return 0;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const [topic, ...extra] = rest;
    if (extra.length > 0) throw new UsageError(`help: unexpected argument ${JSON.stringify(extra[0])}`);
    console.log(topic === undefined ? usage(commands) : find(commands, topic).usage);
    return 0;
  }
  const command = find(commands, name);
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.usage);
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
