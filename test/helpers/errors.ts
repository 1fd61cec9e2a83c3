/** Catching what a call throws, for assertions on the error itself. */

/** What `fn` throws; throws itself when `fn` returns instead. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected an error, but the call returned");
}
