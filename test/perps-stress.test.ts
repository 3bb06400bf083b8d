// The stress scenarios shipped with the node (PERP-3): each replayed through the node's own index,
// mark and margin; a control scenario shows the same accounts are liquidated by a real move.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkScenario, runStress, stressCommand, type Scenario, type StressResult } from '../src/perps/stress.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '../dist/src/cli.js');
const load = (name: string): Scenario => checkScenario(JSON.parse(readFileSync(`scenarios/${name}.json`, 'utf8')));
const status = (r: StressResult, t: number, source: string) => r.steps.find((x) => x.t === t)!.sources.find((c) => c.source === source)!.status;

describe('perps stress scenarios', () => {
  it('[PERP-3] one manipulated source: excluded as an outlier while it lies, the index and mark hold, nobody is liquidated', () => {
    const r: StressResult = JSON.parse(stressCommand('scenarios/manipulated-source.json', true));
    expect(r.scenario).toBe('manipulated-source');
    for (let t = 10; t < 70; t++) expect(status(r, t, 'src-a'), `t=${t}`).toBe('outlier');
    expect(status(r, 80, 'src-a')).toBe('used');
    for (const s of r.steps) {
      expect(Math.abs(s.index - 95_000), `index at ${s.t}`).toBeLessThanOrEqual(10);
      expect(Math.abs(s.mark - 95_000), `mark at ${s.t}`).toBeLessThanOrEqual(10);
      expect(s.degraded).toBe(false);
    }
    expect(r.liquidated).toEqual([]);
    expect(r.accounts.map((a) => [a.name, a.liquidatedAt])).toEqual([['long-20x', null], ['short-10x', null], ['long-5x', null]]);
  });

  it('[PERP-3] a stale source: excluded once older than staleMs; below three usable sources the index is degraded until it returns; nobody is liquidated', () => {
    const r = runStress(load('stale-source'));
    expect(status(r, 19, 'src-b')).toBe('used');
    expect(status(r, 20, 'src-b')).toBe('stale');
    expect(r.steps.filter((s) => s.degraded).map((s) => s.t)).toEqual(Array.from({ length: 40 }, (_, i) => 20 + i));
    // The index follows the live sources, not the frozen 95,010: the median of 93,100 and 93,090.
    expect(r.steps.find((s) => s.t === 50)!.index).toBe(93_095);
    expect(r.steps.find((s) => s.t === 70)!.sources.map((c) => c.status)).toEqual(['used', 'used', 'used', 'stale']);
    expect(r.liquidated).toEqual([]);
  });

  it('[PERP-3] a thin-book flash crash on the platform\'s own books while the other sources hold: no liquidation from the wick alone', () => {
    const r = runStress(load('thin-book-flash-crash'));
    const wick = r.steps.find((s) => s.t === 32)!;
    expect(wick.lastTrade).toBe(76_000);
    expect(wick.sources.find((c) => c.source === 'book')).toEqual({ source: 'book', price: 76_000, status: 'outlier' });
    expect(wick.inputs.lastTrade).toBe(76_000);
    for (const s of r.steps) expect(s.mark, `mark at ${s.t}`).toBeGreaterThanOrEqual(94_990);
    expect(r.accounts.find((a) => a.name === 'long-50x')!.liquidationPrice).toBeGreaterThan(93_000);
    expect(r.liquidated).toEqual([]);
  });

  it('[PERP-3] control: the same crash on every source is a real move — the leveraged longs are liquidated, the circuit breaker only paces the mark', () => {
    const s = load('thin-book-flash-crash');
    s.events.push({ at: 30, prices: { 'src-a': 76_000, 'src-b': 76_010, 'src-c': 75_990 } });
    const r = runStress(s);
    expect(r.liquidated).toEqual(['long-20x', 'long-50x']);
    const at30 = r.steps.find((x) => x.t === 30)!;
    expect([at30.index, at30.clamped]).toEqual([76_000, true]);
    // The mark fell no more than 10% in its first window.
    expect(at30.mark).toBeGreaterThanOrEqual(95_000 * 0.9 - 1);
  });

  it('[PERP-3] junction perps stress --scenario FILE --json prints what the replay gives', () => {
    const out = execFileSync(process.execPath, [CLI, 'perps', 'stress', '--scenario', 'scenarios/thin-book-flash-crash.json', '--json'], { encoding: 'utf8' });
    const r: StressResult = JSON.parse(out);
    expect(r).toEqual(runStress(load('thin-book-flash-crash')));
    expect(r.liquidated).toEqual([]);
    const text = execFileSync(process.execPath, [CLI, 'perps', 'stress', '--scenario', 'scenarios/stale-source.json'], { encoding: 'utf8' });
    expect(text).toContain('index degraded for 40 of 90 steps');
    expect(text).toContain('would be liquidated: nobody');
  });

  it('[PERP-3] a malformed scenario is refused with what is wrong', () => {
    expect(() => checkScenario({ name: 'x', start: { prices: { 'src-z': 1 } }, accounts: [], events: [], seconds: 10 })).toThrow('scenario: unknown source src-z: the sources are src-a, src-b, src-c');
    expect(() => checkScenario({ name: 'x', start: { prices: {} }, accounts: [{ name: 'a', collateral: 0, side: 'long', qty: 1, entry: 1 }], events: [], seconds: 10 })).toThrow(/needs name, collateral > 0/);
    expect(() => stressCommand('scenarios/none.json', true)).toThrow(/cannot read scenario scenarios\/none.json/);
  });
});
