// A map from safe integers to numbers in typed arrays (open addressing, linear probing): entries
// are not objects and their keys are not boxed, so a map of hundreds of thousands of client order
// ids allocates nothing per entry and gives the garbage collector nothing to trace or promote.
// The keys are chosen by clients, so the hash is seeded per process and mixes both halves of the
// key non-linearly: nobody can choose ids that pile into one probe run (the layout is never state).
const EMPTY = 0;
const FULL = 1;
const DELETED = 2;
/** Below this share of live entries a table is rebuilt at its size; above it (with deleted ones) it grows. */
const LOAD_MAX = 0.5;

/** MurmurHash3's 32-bit finalizer: every input bit affects every output bit. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Per process, so clients cannot choose colliding keys (the map's layout is never persisted). */
const SEED_LO = (Math.random() * 4294967296) >>> 0;
const SEED_HI = (Math.random() * 4294967296) >>> 0;

export class NumberMap {
  private keys: Float64Array;
  private values: Float64Array;
  private states: Uint8Array;
  private mask: number;
  /** Live entries, and slots taken by live or deleted ones. */
  private live = 0;
  private used = 0;

  constructor(capacity = 1024) {
    let slots = 16;
    while (slots < 2 * capacity) slots *= 2;
    this.keys = new Float64Array(slots);
    this.values = new Float64Array(slots);
    this.states = new Uint8Array(slots);
    this.mask = slots - 1;
  }

  get size(): number { return this.live; }

  private slotOf(key: number): number {
    // Both 32-bit halves of the integer, each through the finalizer with the process's seed.
    const lo = key >>> 0;
    const hi = Math.floor(key / 4294967296) >>> 0;
    return fmix32(fmix32(lo ^ SEED_LO) ^ hi ^ SEED_HI) & this.mask;
  }

  /** The longest run of taken slots (live or deleted): what a lookup may walk at worst. */
  longestRun(): number {
    let longest = 0;
    let run = 0;
    for (let i = 0; i < 2 * this.states.length; i++) {
      if (this.states[i & this.mask] === EMPTY) run = 0;
      else longest = Math.max(longest, ++run);
    }
    return Math.min(longest, this.states.length);
  }

  /** The slot holding `key`, or -1. */
  private find(key: number): number {
    for (let i = this.slotOf(key); ; i = (i + 1) & this.mask) {
      const state = this.states[i];
      if (state === EMPTY) return -1;
      if (state === FULL && this.keys[i] === key) return i;
    }
  }

  has(key: number): boolean { return this.find(key) >= 0; }

  get(key: number): number | undefined {
    const i = this.find(key);
    return i < 0 ? undefined : this.values[i];
  }

  set(key: number, value: number): this {
    const found = this.find(key);
    if (found >= 0) {
      this.values[found] = value;
      return this;
    }
    if (this.used + 1 > LOAD_MAX * this.states.length) this.rebuild();
    let i = this.slotOf(key);
    while (this.states[i] === FULL) i = (i + 1) & this.mask;
    if (this.states[i] === EMPTY) this.used++;
    this.states[i] = FULL;
    this.keys[i] = key;
    this.values[i] = value;
    this.live++;
    return this;
  }

  delete(key: number): boolean {
    const i = this.find(key);
    if (i < 0) return false;
    this.states[i] = DELETED;
    this.live--;
    return true;
  }

  /** Drops deleted slots, growing the table when live entries fill half of it. */
  private rebuild(): void {
    const { keys, values, states } = this;
    const slots = this.live + 1 > (LOAD_MAX / 2) * states.length ? 2 * states.length : states.length;
    this.keys = new Float64Array(slots);
    this.values = new Float64Array(slots);
    this.states = new Uint8Array(slots);
    this.mask = slots - 1;
    this.live = 0;
    this.used = 0;
    for (let i = 0; i < states.length; i++) if (states[i] === FULL) this.set(keys[i], values[i]);
  }
}
