/** The shape of a CLI command: main.ts builds help, completion and "did you mean" from these. */

/** One `chronicle <name>` command. A module in cli/commands/ exports one as `command`. */
export interface Command {
  /** The word after `chronicle`. */
  name: string;
  /** One line for the command list of `chronicle --help`. */
  summary: string;
  /** The full help text (`chronicle help <name>`, `<name> --help`); its `--flags` are what completion offers. */
  usage: string;
  /** Runs with the arguments after the name; returns the exit code. */
  run(argv: string[]): number | Promise<number>;
}

/** The `--long` and `-s` options a usage text mentions, in order of first mention. */
export function optionsOf(usage: string): string[] {
  return [...new Set(usage.match(/(?<![\w-])--?[a-z][a-z-]*/g) ?? [])];
}
