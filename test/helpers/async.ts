/** Promise helpers for tests that wait on other processes. */

/** Anything that should take well under a second; past this it is reported as a hang. */
export const HANG_MS = 15_000;

/** Rejects when `p` has not settled within `ms`, so a hang fails the test instead of stalling the suite. */
export async function within<T>(p: Promise<T>, what: string, ms = HANG_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms (hang?)`)), ms);
  });
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The rejection reason of `p`, or "resolved". (Bun 1.4.5: `expect(p).rejects` never sees `p` settle
 * when a Worker message settles it after the worker was unref'd and ref'd again, as waitAsync's is.)
 */
export function settled(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => "resolved", (e: unknown) => e);
}

/** Calls `probe` every `everyMs` until `done` accepts its value or `boundMs` has passed; returns the last value. */
export async function eventually<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, boundMs = 5000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await Bun.sleep(everyMs);
  }
}

/** Calls `poll` (which returns what is new since the last call) until `done` accepts everything collected or `boundMs` has passed; returns all of it. */
export async function collectUntil<T>(poll: () => T[], done: (all: T[]) => boolean, boundMs = 5000, everyMs = 10): Promise<T[]> {
  const all: T[] = [];
  return eventually(() => (all.push(...poll()), all), done, boundMs, everyMs);
}
