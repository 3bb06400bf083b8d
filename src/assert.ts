// Invariants, asserted: a failed one is a bug of ours, named, never a silent undefined.
export function assert(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`invariant broken: ${what}`);
}
