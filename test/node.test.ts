// `npm start` runs the node: it opens (or creates) its data folder, says it is ready, and stops cleanly.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { journalCounts } from './support/journal.js';

const NODE_JS = join(__dirname, '../dist/src/node.js');

function run(args: string[]): { lines: string[]; stderr: () => string; ready: Promise<void>; exit: Promise<number | null>; kill: (s: NodeJS.Signals) => void } {
  const child = spawn(process.execPath, [NODE_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buffered = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      lines.push(...parts);
      if (lines.some((l) => l.includes('"ready"'))) resolve();
    });
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { lines, stderr: () => stderr, ready, exit, kill: (s) => child.kill(s) };
}

/** What the demo sequences on a new data folder before it is ready. */
const SET_UP = 26;

describe('node start-up', () => {
  it('[CORE-5] [OPS-2] starts on a new data folder with the demo configuration, stops on SIGTERM, restarts where it stopped', async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-node-'));
    // Without the simulated price sources, nothing is sequenced after the set-up (they are tested in perps-gateway.test.ts).
    const first = run(['--data', data, '--port', '0', '--fix-port', '0', '--demo-sources', 'off']);
    await first.ready;
    first.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    // The log's lines (src/ops/log.ts), each found by its event: start, ready, stopped.
    const event = (lines: string[], name: string) => lines.map((l) => JSON.parse(l)).find((l) => l.event === name);
    const ready = event(first.lines, 'ready');
    // 11 deposits, 2 suitability assessments, 13 venue set-up commands: 26. The perpetuals' funding
    // samples add a clock command at each minute boundary the run happened to cross.
    const firstRun = await journalCounts(data);
    expect(firstRun.commands - firstRun.clocks).toBe(SET_UP);
    expect(ready).toMatchObject({ event: 'ready', data, keys: join(data, 'demo-keys.json'), instruments: ['BTC-USD', 'ETH-USD', 'BTC-PERP', 'ETH-PERP'], openOrders: 0 });
    expect(ready.lastSequence).toBeGreaterThanOrEqual(SET_UP);
    expect(ready.lastSequence).toBeLessThanOrEqual(firstRun.commands);
    expect(ready.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);
    const demoKeys = JSON.parse(readFileSync(join(data, 'demo-keys.json'), 'utf8'));
    expect(demoKeys.map((k: { keyId: number; account: number }) => [k.keyId, k.account])).toEqual([[1, 10], [2, 11], [112, 12], [113, 13], [100, 0], [201, 0], [202, 0], [203, 0]]);
    // Between start and ready, the demo venues' set-up (venue.added, ...: see metrics.test.ts).
    expect(first.lines.map((l) => JSON.parse(l).event).filter((e: string) => !e.startsWith('venue.'))).toEqual(['start', 'ready', 'stopped']);
    expect(event(first.lines, 'stopped')).toMatchObject({ level: 'info', event: 'stopped', signal: 'SIGTERM', lastSequence: firstRun.commands });
    const second = run(['--data', data, '--port', '0', '--fix-port', '0', '--demo-sources', 'off']);
    await second.ready;
    second.kill('SIGINT');
    expect(await second.exit).toBe(0);
    // Restarted where it stopped: nothing set up again, nothing lost; only clocks came since.
    const secondRun = await journalCounts(data);
    expect(secondRun.commands - secondRun.clocks).toBe(SET_UP);
    expect(event(second.lines, 'ready').lastSequence).toBeGreaterThanOrEqual(firstRun.commands);
    expect(event(second.lines, 'stopped')).toMatchObject({ event: 'stopped', signal: 'SIGINT', lastSequence: secondRun.commands });
  });

  it('[OPS-2] refuses a data folder it cannot use, with a clear message', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'junction-node-')), 'not-a-folder');
    writeFileSync(file, 'x');
    const child = run(['--data', join(file, 'sub'), '--port', '0', '--fix-port', '0']);
    expect(await child.exit).toBe(2);
    expect(child.stderr()).toMatch(new RegExp(`^cannot start the node on ${join(file, 'sub')}: `));
  });

  it('[OPS-3] refuses a bound on the site\'s live connections per address it cannot keep, naming the range', async () => {
    for (const bad of ['0', '1025', 'many']) {
      const child = run(['--data', mkdtempSync(join(tmpdir(), 'junction-node-')), '--port', '0', '--fix-port', '0', '--site-per-address', bad]);
      expect(await child.exit).toBe(2);
      expect(child.stderr()).toBe(`--site-per-address must be a whole number from 1 to 1024 (the live channel's connections), got ${bad}\n`);
    }
  });
});
