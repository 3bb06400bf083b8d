// The project's workload generator (scripts/gen-ops.mjs) and the replay benchmark (bench/replay.ts)
// on workloads priced far from the old band around 100,000: every engine must match them (fills,
// no rejected new orders, identical outcomes), and a run whose new orders are rejected must fail
// rather than report a figure. The benchmark runs as a user runs it, from dist/ (npm run build:ts).
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WORKLOAD_RECORD_WORDS, readWorkload, workloadProblem } from '../src/core/workload.js';

const GENERATOR = join(__dirname, '../scripts/gen-ops.mjs');
const REPLAY = join(__dirname, '../dist/bench/replay.js');
const dir = mkdtempSync(join(tmpdir(), 'junction-bench-replay-'));

/** Writes a workload with the project's generator and returns its path. */
function generate(name: string, count: number, seed: number, ...flags: string[]): string {
  const file = join(dir, name);
  execFileSync(process.execPath, [GENERATOR, file, String(count), String(seed), ...flags]);
  return file;
}

function replay(file: string, engine: string, ...flags: string[]) {
  if (!existsSync(REPLAY)) throw new Error(`${REPLAY} is missing: run npm run build:ts first`);
  const out = spawnSync(process.execPath, [REPLAY, '--ops', file, '--engine', engine, '--runs', '1', ...flags], { encoding: 'utf8' });
  const line = out.stdout.trim();
  return { status: out.status, stderr: out.stderr, result: line ? JSON.parse(line) : undefined };
}

/** What the replay reports about matching, without the timings. */
function outcome(result: Record<string, unknown>) {
  const { fills, resting, rejects, rejected_new_orders, reject_reasons } = result;
  return { fills, resting, rejects, rejected_new_orders, reject_reasons };
}

describe('workload generator (scripts/gen-ops.mjs)', () => {
  it('[CORE-4] is deterministic from its seed and writes the documented format', () => {
    const a = readFileSync(generate('a.bin', 5_000, 11));
    const b = readFileSync(generate('b.bin', 5_000, 11));
    const c = readFileSync(generate('c.bin', 5_000, 12));
    expect(a.byteLength).toBe(5_000 * WORKLOAD_RECORD_WORDS * 4);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);

    const ops = readWorkload(join(dir, 'a.bin'));
    expect(workloadProblem(ops)).toBeUndefined();
    const kinds = [0, 0, 0];
    let lastId = 0;
    for (let r = 0; r < ops.length; r += WORKLOAD_RECORD_WORDS) {
      const [op, , price, qty, id] = ops.subarray(r, r + WORKLOAD_RECORD_WORDS);
      kinds[op]++;
      if (op === 1) {
        expect([price, qty]).toEqual([0, 0]);
        continue;
      }
      // New orders are numbered 1, 2, 3, ... and priced within 50 ticks of the default mid.
      expect(id).toBe(++lastId);
      expect(Math.abs(price - 100_000)).toBeGreaterThanOrEqual(1);
      expect(Math.abs(price - 100_000)).toBeLessThanOrEqual(50);
      expect(qty >= 1 && qty <= 10).toBe(true);
    }
    // A mix of all three operations: about 14% IOC, the rest split between GTC and cancels.
    expect(kinds.every((n) => n > 500)).toBe(true);
    expect(kinds[2] / 5_000).toBeGreaterThan(0.11);
    expect(kinds[2] / 5_000).toBeLessThan(0.17);
  });

  it('[CORE-4] refuses bad arguments with its usage', () => {
    const out = spawnSync(process.execPath, [GENERATOR, join(dir, 'x.bin'), '10', '1', '--mid', '0'], { encoding: 'utf8' });
    expect(out.status).toBe(2);
    expect(out.stderr).toContain('mid must be an integer in 1..2147483647');
    expect(out.stderr).toContain('usage: node scripts/gen-ops.mjs OUT COUNT SEED');
  });
});

describe('bench:replay on workloads priced away from 100,000', () => {
  // Exact outcomes: the generator and the engines are deterministic, and all three engines must agree.
  const cases = [
    { mid: '5000000', spread: '50', expected: { fills: 4_283, resting: 761, rejects: 2_120, rejected_new_orders: 0, reject_reasons: { UnknownOrder: 2_120 } } },
    // Prices 2..118: a later order often lies far beyond twice the last trade (the instrument has no band).
    { mid: '60', spread: '58', expected: { fills: 4_293, resting: 762, rejects: 2_124, rejected_new_orders: 0, reject_reasons: { UnknownOrder: 2_124 } } },
    // At the top of the format: prices up to 2^31-49 and quantities up to 2^31-1.
    { mid: '2147483000', spread: '600', qtyMax: '2147483647', expected: { fills: 4_694, resting: 763, rejects: 2_106, rejected_new_orders: 0, reject_reasons: { UnknownOrder: 2_106 } } },
  ];
  for (const { mid, spread, qtyMax = '10', expected } of cases) {
    it(`[CORE-5] [CORE-1] a workload around ${mid} (±${spread} ticks, qty up to ${qtyMax}) matches in every engine with no rejected new order`, () => {
      const file = generate(`mid-${mid}.bin`, 20_000, 7, '--mid', mid, '--spread', spread, '--qty-max', qtyMax);
      const ops = readWorkload(file);
      const prices = new Set<number>();
      for (let r = 0; r < ops.length; r += WORKLOAD_RECORD_WORDS) if (ops[r] !== 1) prices.add(ops[r + 2]);
      expect(Math.min(...prices)).toBe(Number(mid) - Number(spread));
      expect(Math.max(...prices)).toBe(Number(mid) + Number(spread));

      for (const engine of ['native-raw', 'native', 'reference']) {
        const run = replay(file, engine);
        expect(run.stderr, engine).toBe('');
        expect(run.status, engine).toBe(0);
        expect(run.result.engine).toBe(engine);
        expect(run.result.ops).toBe(20_000);
        expect(run.result.ops_per_s).toBeGreaterThan(0);
        expect(outcome(run.result), engine).toEqual(expected);
      }
    });
  }

  it('[CORE-5] a run in which new orders are rejected prints its figures, names the first rejected order and exits 1', () => {
    const file = generate('pool.bin', 20_000, 7, '--mid', '7', '--spread', '2');
    // A pool of 16 orders cannot hold the book this flow builds: GTC orders meet OrderPoolFull.
    for (const engine of ['native-raw', 'native', 'reference']) {
      const run = replay(file, engine, '--orders-max', '16');
      expect(run.status, engine).toBe(1);
      expect(outcome(run.result), engine).toEqual({
        fills: 3_169, resting: 16, rejects: 15_161, rejected_new_orders: 7_197,
        reject_reasons: { UnknownOrder: 7_964, OrderPoolFull: 7_197 },
      });
      expect(run.stderr, engine).toBe(
        "bench:replay: 7197 of the workload's new orders were rejected, so the figure above does not measure matching; " +
        'the first is operation 17 [0, 1, 9, 9, 18]: OrderPoolFull (raise --orders-max)\n',
      );
    }
  });

  it('[CORE-5] a file that breaks the format is refused before anything is timed, naming the record', () => {
    const file = join(dir, 'bad.bin');
    const ops = new Int32Array([0, 0, 100, 5, 1, 0, 1, 0, 5, 2]);
    writeFileSync(file, Buffer.from(ops.buffer));
    const run = replay(file, 'native');
    expect(run.status).toBe(2);
    expect(run.result).toBeUndefined();
    expect(run.stderr).toBe(`bench:replay: ${file}: operation 1 [0, 1, 0, 5, 2]: price must be at least 1 tick\n`);
  });
});
