// Waiting, in tests, for something another process or the event loop will bring.

/**
 * Polls `get` every 5 ms until it gives a value; throws naming `what` after `ms` of wall time
 * (generous by default: CI hosts run every test file at once on two cores).
 */
export async function until<T>(get: () => T | undefined | false, what: string, ms = 15_000): Promise<T> {
  for (const end = Date.now() + ms; ;) {
    const value = get();
    if (value) return value;
    if (Date.now() >= end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
