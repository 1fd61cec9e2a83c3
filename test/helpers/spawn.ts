/** Running real child processes (Bun scripts) for multi-process tests. */
import { basename, join } from "node:path";
import type { Subprocess } from "bun";

export const FIXTURES = join(import.meta.dir, "..", "fixtures");

export interface Child extends AsyncDisposable {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Resolves with the next stdout line (throws if the process ends first). */
  line(): Promise<string>;
  /** Reads stdout lines until `predicate` matches one; returns all lines read. */
  until(predicate: (line: string) => boolean): Promise<string[]>;
  /** Reads stdout lines until `predicate` matches one; returns that line. */
  find(predicate: (line: string) => boolean): Promise<string>;
  /** Waits for exit; returns the exit code and the remaining stdout lines and stderr. */
  exit(): Promise<{ code: number | null; signal: string | null; lines: string[]; stderr: string }>;
  kill(signal?: NodeJS.Signals | number): void;
  /** Sends `signal` (SIGKILL unless told) and waits until the process has gone. */
  killAndWait(signal?: NodeJS.Signals | number): Promise<void>;
}

/** Starts `bun <fixture> ...args` from test/fixtures with stdout/stderr piped. */
export function spawnFixture(fixture: string, args: string[] = [], env: Record<string, string> = {}): Child {
  return spawnScript(join(FIXTURES, fixture), args, env);
}

/** Starts `bun <script> ...args` with stdout/stderr piped, `env` on top of this process's environment. */
export function spawnScript(script: string, args: string[] = [], env: Record<string, string> = {}): Child {
  return spawnCommand(["bun", script, ...args], env);
}

/** Starts `cmd` with stdout/stderr piped, `env` on top of this process's environment. */
export function spawnCommand(cmd: string[], env: Record<string, string> = {}): Child {
  const script = cmd.find((a) => a.endsWith(".ts")) ?? cmd[0]!;
  const proc = Bun.spawn(cmd, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let done = false;
  const pending: string[] = [];

  async function fill(): Promise<boolean> {
    if (done) return false;
    const { value, done: end } = await reader.read();
    if (end) {
      done = true;
      if (buffered.length > 0) pending.push(buffered);
      buffered = "";
      return pending.length > 0;
    }
    buffered += decoder.decode(value, { stream: true });
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    pending.push(...parts);
    return true;
  }

  async function line(): Promise<string> {
    while (pending.length === 0) {
      if (!(await fill()) && pending.length === 0) {
        const stderr = await new Response(proc.stderr).text();
        throw new Error(`${basename(script)} ended before printing a line (exit ${await proc.exited}): ${stderr}`);
      }
    }
    return pending.shift()!;
  }

  return {
    proc,
    line,
    async until(predicate) {
      const seen: string[] = [];
      for (;;) {
        const l = await line();
        seen.push(l);
        if (predicate(l)) return seen;
      }
    },
    async find(predicate) {
      for (;;) {
        const l = await line();
        if (predicate(l)) return l;
      }
    },
    async exit() {
      while (await fill());
      const code = await proc.exited;
      const stderr = await new Response(proc.stderr).text();
      return { code, signal: proc.signalCode === null ? null : String(proc.signalCode), lines: pending.splice(0), stderr };
    },
    kill(signal = "SIGKILL") {
      proc.kill(signal);
    },
    async killAndWait(signal = "SIGKILL") {
      proc.kill(signal);
      await proc.exited;
    },
    async [Symbol.asyncDispose]() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}

export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` to its end with stdout and stderr piped (stdin ignored); returns its exit code and output. */
export async function runToEnd(cmd: string[], options: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Finished> {
  const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", ...options });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** `children` as one array that `await using` disposes of as a whole (killing whichever still runs). */
export function together(children: Child[]): Child[] & AsyncDisposable {
  return Object.assign(children, {
    async [Symbol.asyncDispose]() {
      for (const c of children) await c[Symbol.asyncDispose]();
    },
  });
}

/** Runs a command as the unprivileged user nobody (uid/gid 65534, no groups), for permission tests. */
export const AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

/** Why bun cannot be run as nobody here, or null when it can (tests that need it skip with the reason). */
export function cannotRunAsNobody(): string | null {
  const probe = Bun.spawnSync([...AS_NOBODY, "bun", "--version"], { stdout: "pipe", stderr: "pipe" });
  return probe.exitCode === 0 ? null : `cannot run bun as an unprivileged user with setpriv (${probe.stderr.toString().trim() || `exit ${probe.exitCode}`})`;
}
