// NumberMap (the client order ids' table) behaves as a Map of numbers under random mixed use:
// sets, overwrites, deletes of present and absent keys, keys across the whole safe-integer range,
// and enough churn to force rebuilds and growth.
import { describe, expect, it } from 'vitest';
import { NumberMap } from '../src/reports/number-map.js';
import { ClOrdIds } from '../src/reports/client-order-ids.js';
import { mulberry32 } from './support/command-stream.js';

describe('NumberMap', () => {
  it('[OPS-1] agrees with a Map after every one of 200,000 random operations', () => {
    const random = mulberry32(5);
    const map = new NumberMap(4);
    const model = new Map<number, number>();
    const keys: number[] = [];
    for (let step = 0; step < 200_000; step++) {
      const x = random();
      const key = keys.length > 0 && x < 0.6 ? keys[Math.floor(random() * keys.length)]
        : Math.floor(random() * (random() < 0.5 ? 1_000 : Number.MAX_SAFE_INTEGER));
      if (x < 0.45) {
        const value = random() < 0.1 ? -1 : Math.floor(random() * 2 ** 40);
        map.set(key, value);
        model.set(key, value);
        keys.push(key);
      } else if (x < 0.75) {
        expect(map.delete(key), `step ${step}`).toBe(model.delete(key));
      } else {
        expect(map.get(key), `step ${step}`).toBe(model.get(key));
        expect(map.has(key)).toBe(model.has(key));
      }
      if (keys.length > 5_000) keys.splice(0, 2_500);
      expect(map.size).toBe(model.size);
    }
    for (const [k, v] of model) expect(map.get(k)).toBe(v);
  });

  it('[OPS-1] a key\'s client order ids stay refused for the last N finished orders, then are forgotten', () => {
    const ids = new ClOrdIds(3);
    for (let c = 1; c <= 5; c++) {
      ids.ids.set(c * 2 ** 40, c);
      ids.retire(c * 2 ** 40, c);
    }
    // The last 3 finished (3, 4, 5) are kept; 1 and 2 are forgotten.
    expect([1, 2, 3, 4, 5].map((c) => ids.ids.has(c * 2 ** 40))).toEqual([false, false, true, true, true]);
    // An id reused since it finished names the newer order and is not forgotten with the old one.
    ids.ids.set(3 * 2 ** 40, 99);
    ids.retire(6 * 2 ** 40, 6);
    expect(ids.ids.get(3 * 2 ** 40)).toBe(99);
  });
});

describe('NumberMap against chosen keys', () => {
  it('[OPS-1] keys crafted to collide under an unseeded mix spread out: no long probe runs', () => {
    const map = new NumberMap();
    // Keys a client could pick so that lo ^ imul(hi, φ) is constant (what an unseeded, linear mix
    // would send to one slot): the seeded finalizer must not pile them up.
    for (let hi = 1; hi <= 20_000; hi++) {
      const lo = (Math.imul(hi, 0x9e3779b1) ^ 0x12345678) >>> 0;
      map.set(hi * 4294967296 + lo, hi);
    }
    expect(map.size).toBe(20_000);
    expect(map.longestRun()).toBeLessThan(200);
  });

  it('[OPS-1] the retention ring grows and retires oldest first for retention windows of several sizes', () => {
    for (const retained of [1, 127, 128, 129, 300]) {
      const ids = new ClOrdIds(retained);
      const window: number[] = [];
      for (let c = 1; c <= 3 * retained + 7; c++) {
        ids.ids.set(c, c);
        ids.retire(c, c);
        window.push(c);
        if (window.length > retained) window.shift();
        expect(ids.ids.size, `retained ${retained} after ${c}`).toBe(window.length);
      }
      expect(window.every((c) => ids.ids.has(c))).toBe(true);
    }
  });
});
