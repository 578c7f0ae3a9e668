// Waiting by polling: check often, give up after a generous timeout with what was seen last.

/** Thrown by a `check` that knows waiting longer is pointless: it ends the wait at once. */
export class GiveUp extends Error {}

/**
 * Calls `check()` every `interval` ms until it returns something truthy (which is returned).
 * Errors thrown by `check` count as "not yet", except `GiveUp`. On timeout, throws naming `what`.
 */
export async function waitUntil(what, check, { timeout = 15_000, interval = 150 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (e) {
      if (e instanceof GiveUp) throw e;
      last = e;
    }
    if (Date.now() > deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout} ms waiting until ${what} (last: ${seen})`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
