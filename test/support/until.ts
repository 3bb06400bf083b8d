// Waiting, in tests, for something another process or the event loop will bring.

/** Polls `get` every 5 ms until it gives a value; throws naming `what` after `ms`. */
export async function until<T>(get: () => T | undefined | false, what: string, ms = 5_000): Promise<T> {
  for (let waited = 0; ; waited += 5) {
    const value = get();
    if (value) return value;
    if (waited >= ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
