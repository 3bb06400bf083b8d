// The `junction` trading commands against a node started as `npm start` starts it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NODE_JS = join(__dirname, '../dist/src/node.js');
const CLI = join(__dirname, '../dist/src/cli.js');
let node: ChildProcess;
let url: string;
let keys: string;

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  const data = mkdtempSync(join(tmpdir(), 'junction-cli-trading-'));
  node = spawn(process.execPath, [NODE_JS, '--data', data, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<{ url: string; keys: string }>((resolve) => {
    let buffered = '';
    node.stdout!.on('data', (c: Buffer) => {
      buffered += c.toString();
      const line = buffered.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
  });
  url = ready.url;
  keys = ready.keys;
});

afterAll(async () => {
  node.kill('SIGTERM');
  await new Promise((r) => node.on('exit', r));
});

describe('junction order, book and trades', () => {
  it('[OPS-1] places, shows in the book, trades, and cancels from the command line', async () => {
    const placed = await run(['order', 'place', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', '1', '--side', 'buy',
      '--price', '95000000000', '--qty', '20000', '--cl-ord-id', '501', '--json']);
    expect(placed.stderr).toBe('');
    expect(placed.code).toBe(0);
    expect(JSON.parse(placed.stdout.trim().split('\n')[0])).toMatchObject({ type: 'execution', clOrdId: 501, exec: 'new', side: 'buy', price: 95_000_000_000, leavesQty: 20_000 });

    const book = await run(['book', 'watch', '--url', url, '--instrument', '1', '--count', '1', '--json']);
    expect(JSON.parse(book.stdout.trim())).toMatchObject({ instrument: 1, bids: [{ price: 95_000_000_000, qty: 20_000, count: 1 }], asks: [] });

    const tail = run(['trades', 'tail', '--url', url, '--instrument', '1', '--count', '1', '--json']);
    await new Promise((r) => setTimeout(r, 300));
    const sold = await run(['order', 'place', '--url', url, '--key-file', keys, '--key-id', '2', '--instrument', '1', '--side', 'sell',
      '--price', '95000000000', '--qty', '10000', '--tif', 'ioc', '--json']);
    expect(sold.stdout.trim().split('\n').map((l) => JSON.parse(l).exec)).toEqual(['new', 'fill']);
    const trade = await tail;
    expect(JSON.parse(trade.stdout.trim())).toMatchObject({ instrument: 1, price: 95_000_000_000, qty: 10_000, aggressor: 'sell' });

    const cancelled = await run(['order', 'cancel', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', '1', '--cl-ord-id', '501', '--json']);
    expect(JSON.parse(cancelled.stdout.trim())).toMatchObject({ clOrdId: 501, exec: 'cancelled', leavesQty: 0 });
    const again = await run(['order', 'cancel', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', '1', '--cl-ord-id', '501', '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout.trim())).toMatchObject({ type: 'cancel-reject', origClOrdId: 501, reason: 112 });
  });

  it('[OPS-1] says what is wrong with a bad command line', async () => {
    const bad = await run(['order', 'place', '--url', url, '--key-file', keys, '--instrument', '1', '--side', 'up', '--price', '1', '--qty', '1']);
    expect([bad.code, bad.stderr.trim()]).toEqual([1, 'junction order: --side buy|sell, --tif gtc|ioc|fok|post, --type limit|market']);
    const usage = await run(['book', 'watch', '--url', url]);
    expect([usage.code, usage.stderr.trim()]).toEqual([2, 'usage: junction book watch --url URL --instrument N [--levels K] [--json]']);
  });
});
