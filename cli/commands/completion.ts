import { optionsOf, type Command } from "../command.ts";
import { parseArgs, UsageError } from "../output.ts";
import { loadCommands } from "../registry.ts";

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

const usage = `usage: chronicle completion bash|zsh|fish

Prints a shell completion script for chronicle: command names, each command's options, and
directories for its arguments. Load it for this shell, or install it:
  bash   source <(chronicle completion bash)       (or save it in ~/.local/share/bash-completion/completions/chronicle)
  zsh    source <(chronicle completion zsh)        (or save it as _chronicle in a directory of $fpath)
  fish   chronicle completion fish | source        (or save it in ~/.config/fish/completions/chronicle.fish)`;

/** The words completion offers: each command (plus help) with its options. */
interface Words {
  commands: { name: string; summary: string; options: string[] }[];
}

async function words(): Promise<Words> {
  const commands = (await loadCommands()).map((c) => ({ name: c.name, summary: c.summary, options: optionsOf(c.usage).filter((o) => o !== "--help") }));
  return { commands: [...commands, { name: "help", summary: "the help of one command", options: [] }] };
}

// Summaries go inside single quotes in every shell.
const quoted = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(w: Words): string {
  const names = w.commands.map((c) => c.name).join(" ");
  const cases = w.commands.map((c) => `    ${c.name}) opts=${quoted(c.options.join(" "))} ;;`).join("\n");
  return `# bash completion for chronicle (chronicle completion bash)
_chronicle() {
  local cur=\${COMP_WORDS[COMP_CWORD]} opts=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W ${quoted(`${names} --help --version`)} -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  case "\${COMP_WORDS[1]}" in
    help) COMPREPLY=($(compgen -W ${quoted(names)} -- "$cur")); return ;;
    completion) COMPREPLY=($(compgen -W ${quoted(SHELLS.join(" "))} -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -d -- "$cur"))
  fi
}
complete -F _chronicle chronicle
`;
}

function zsh(w: Words): string {
  const described = w.commands.map((c) => `    ${quoted(`${c.name}:${c.summary.replace(/:/g, "\\:")}`)}`).join("\n");
  const cases = w.commands.filter((c) => c.name !== "help" && c.name !== "completion").map((c) => `    ${c.name}) opts=(${c.options.map(quoted).join(" ")}) ;;`).join("\n");
  return `#compdef chronicle
# zsh completion for chronicle (chronicle completion zsh)
_chronicle() {
  local -a commands opts
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe command commands
    compadd -- --help --version
    return
  fi
  case $words[2] in
    help) _describe command commands; return ;;
    completion) compadd -- ${SHELLS.join(" ")}; return ;;
${cases}
  esac
  if [[ $PREFIX == -* ]]; then
    compadd -- $opts
  else
    _files -/
  fi
}
if [[ $funcstack[1] == _chronicle ]]; then _chronicle "$@"; else compdef _chronicle chronicle; fi
`;
}

function fish(w: Words): string {
  const lines = ["# fish completion for chronicle (chronicle completion fish)", "complete -c chronicle -f"];
  const names = w.commands.map((c) => c.name).join(" ");
  lines.push(`complete -c chronicle -n __fish_use_subcommand -l help -d 'show the help'`);
  lines.push(`complete -c chronicle -n __fish_use_subcommand -l version -d 'print the version'`);
  for (const c of w.commands) {
    lines.push(`complete -c chronicle -n __fish_use_subcommand -a ${c.name} -d ${quoted(c.summary)}`);
    const when = `-n ${quoted(`__fish_seen_subcommand_from ${c.name}`)}`;
    for (const o of c.options) lines.push(`complete -c chronicle ${when} ${o.startsWith("--") ? `-l ${o.slice(2)}` : `-s ${o.slice(1)}`}`);
    if (c.name === "help") lines.push(`complete -c chronicle ${when} -a ${quoted(names)}`);
    else if (c.name === "completion") lines.push(`complete -c chronicle ${when} -a ${quoted(SHELLS.join(" "))}`);
    else lines.push(`complete -c chronicle ${when} -a '(__fish_complete_directories)'`);
  }
  return `${lines.join("\n")}\n`;
}

async function completion(argv: string[]): Promise<number> {
  const args = parseArgs(argv, [], [], 1);
  const shell = args.positional[0];
  if (shell === undefined) throw new UsageError("completion: missing shell (bash, zsh or fish)");
  if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion: unknown shell ${JSON.stringify(shell)} (bash, zsh or fish)`);
  const w = await words();
  process.stdout.write({ bash, zsh, fish }[shell as Shell](w));
  return 0;
}

/** `chronicle completion`. */
export const command: Command = { name: "completion", summary: "print a shell completion script (bash, zsh or fish)", usage, run: completion };
