#!/usr/bin/env node
// Junction's own order-flow generator: a deterministic stream of operations for the replay
// benchmark and the differential tests. Plain Node, no dependencies.
//
// Each operation is 5 little-endian int32 words, [op, side, price, qty, id]:
//   op    0 = limit GTC, 1 = cancel of an earlier id, 2 = limit IOC
//   side  0 = buy, 1 = sell (a cancel carries the side of the order it names)
//   price in ticks, qty in lots (a cancel has 0 for both)
//   id    new orders are numbered 1, 2, 3, ...; a cancel names an earlier one, which may have
//         been filled in the meantime (the engine then rejects the cancel as a no-op).
//
// The flow: passive GTC orders rest a few ticks either side of a fixed mid price, cancels pull a
// random order the generator still believes open, and IOC orders reach across the mid to take
// liquidity. Cancels win more often as the believed-open count grows, so the book hovers around
// `open` orders however long the stream is.
//
// usage: node scripts/gen-ops.mjs OUT COUNT SEED [--mid N] [--spread N] [--qty-max N] [--open N]
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const RECORD_WORDS = 5;
export const RECORD_BYTES = RECORD_WORDS * 4;
export const Op = Object.freeze({ Limit: 0, Cancel: 1, Ioc: 2 });
const INT32_MAX = 2 ** 31 - 1;

export const DEFAULTS = Object.freeze({ mid: 100_000, spread: 50, qtyMax: 10, open: 1_000 });

/**
 * A small, fast 32-bit generator (xoshiro128**), seeded through splitmix32 so that nearby seeds
 * give unrelated streams. Returns a function yielding integers in [0, n).
 */
function seededDraw(seed) {
  let s = seed >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix(), b = splitmix(), c = splitmix(), d = splitmix();
  if ((a | b | c | d) === 0) a = 1;
  const next = () => {
    const out = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = rotl(d, 11);
    return out;
  };
  // Scales a 32-bit draw onto [0, n); for the small n used here the unevenness is below n / 2^32.
  return (n) => Math.floor((next() / 4294967296) * n);
}

function rotl(x, k) {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function positiveInt(name, value, max = INT32_MAX) {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name} must be an integer in 1..${max}, got ${value}`);
  }
  return value;
}

/**
 * Generates `count` operations from `seed` as an Int32Array of count × 5 words.
 * Options: mid (price the flow centres on), spread (how many ticks from mid passive orders rest,
 * and how far IOCs reach), qtyMax (largest order quantity), open (orders the flow tries to keep
 * open). Prices never fall below 1 tick.
 */
export function generateOps({ count, seed, mid = DEFAULTS.mid, spread = DEFAULTS.spread, qtyMax = DEFAULTS.qtyMax, open = DEFAULTS.open }) {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  positiveInt('mid', mid);
  positiveInt('spread', spread);
  positiveInt('qtyMax', qtyMax);
  positiveInt('open', open);
  if (mid + spread > INT32_MAX) throw new RangeError(`mid + spread must stay within ${INT32_MAX}`);

  const draw = seededDraw(seed);
  const out = new Int32Array(count * RECORD_WORDS);
  // Orders believed open (some of them will have been filled by IOCs), with their sides, so a
  // cancel can pick one in O(1): swap it with the last and shrink.
  const openIds = new Int32Array(Math.min(count, 4 * open + 16));
  const openSides = new Uint8Array(openIds.length);
  let openCount = 0;
  let nextId = 1;
  const priceAt = (side, ticksFromMid) => (side === 0 ? Math.max(1, mid - ticksFromMid) : mid + ticksFromMid);

  for (let i = 0; i < count; i++) {
    const w = i * RECORD_WORDS;
    const roll = draw(1000);
    let op;
    if (roll < 140) op = Op.Ioc; // 14% takers
    else if (openCount === 0) op = Op.Limit;
    else if (openCount >= openIds.length) op = Op.Cancel;
    else {
      // Among the rest, cancel with probability openCount / (openCount + open): about half at the
      // target, more above it, fewer below it.
      op = draw(openCount + open) < openCount ? Op.Cancel : Op.Limit;
    }

    if (op === Op.Cancel) {
      const k = draw(openCount);
      out[w] = Op.Cancel;
      out[w + 1] = openSides[k];
      out[w + 4] = openIds[k];
      openCount--;
      openIds[k] = openIds[openCount];
      openSides[k] = openSides[openCount];
      continue;
    }

    const side = draw(2);
    const id = nextId++;
    out[w] = op;
    out[w + 1] = side;
    out[w + 3] = 1 + draw(qtyMax);
    out[w + 4] = id;
    if (op === Op.Ioc) {
      // A taker prices itself through the mid into the opposite side, by up to `spread` ticks.
      out[w + 2] = priceAt(1 - side, 1 + draw(spread));
    } else {
      out[w + 2] = priceAt(side, 1 + draw(spread));
      openIds[openCount] = id;
      openSides[openCount] = side;
      openCount++;
    }
  }
  return out;
}

/** The operations as the file's bytes: little-endian whatever the host's byte order. */
export function encodeOps(ops) {
  const bytes = Buffer.alloc(ops.length * 4);
  for (let i = 0; i < ops.length; i++) bytes.writeInt32LE(ops[i], i * 4);
  return bytes;
}

/** Generates and writes a workload file; returns the operations. */
export function writeOps(path, options) {
  const ops = generateOps(options);
  writeFileSync(path, encodeOps(ops));
  return ops;
}

const USAGE = 'usage: node scripts/gen-ops.mjs OUT COUNT SEED [--mid N] [--spread N] [--qty-max N] [--open N]';

function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      mid: { type: 'string' },
      spread: { type: 'string' },
      'qty-max': { type: 'string' },
      open: { type: 'string' },
    },
  });
  const [out, countArg, seedArg] = positionals;
  if (!out || countArg === undefined || seedArg === undefined || positionals.length > 3) {
    console.error(USAGE);
    process.exit(2);
  }
  const number = (name, text) => {
    if (!/^-?\d+$/.test(text)) {
      console.error(`${name} must be an integer, got ${JSON.stringify(text)}\n${USAGE}`);
      process.exit(2);
    }
    return Number(text);
  };
  const options = { count: number('COUNT', countArg), seed: number('SEED', seedArg) };
  if (values.mid !== undefined) options.mid = number('--mid', values.mid);
  if (values.spread !== undefined) options.spread = number('--spread', values.spread);
  if (values['qty-max'] !== undefined) options.qtyMax = number('--qty-max', values['qty-max']);
  if (values.open !== undefined) options.open = number('--open', values.open);
  let ops;
  try {
    ops = writeOps(out, options);
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const tally = [0, 0, 0];
  for (let w = 0; w < ops.length; w += RECORD_WORDS) tally[ops[w]]++;
  console.log(`wrote ${options.count} operations to ${out} (${tally[Op.Limit]} GTC, ${tally[Op.Cancel]} cancels, ${tally[Op.Ioc]} IOC)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main(process.argv.slice(2));
