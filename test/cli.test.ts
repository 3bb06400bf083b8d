// `junction ledger`: an operator reads an account's balances, holds and postings from LMDB.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { BUYER, SELLER, testConfig } from './support/node-config.js';

const CLI = join(__dirname, '../dist/src/cli.js');
const junction = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe('junction ledger', () => {
  it('[OPS-2] [SL-10] prints an account\'s balances, open orders with their holds, and its postings', async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-cli-'));
    const node = await NodeRuntime.open({ dataDir: data, config: testConfig() });
    await node.submit({ type: 'deposit', key: 'a', account: BUYER, asset: 'QUOTE', amount: 50_000 });
    await node.submit({ type: 'deposit', key: 'b', account: SELLER, asset: 'BASE', amount: 10 });
    const order = await node.submit({ type: 'order', account: BUYER, instrument: 1, side: 0, orderType: 0, tif: 0, price: 1_000, qty: 10 });
    await node.submit({ type: 'order', account: SELLER, instrument: 1, side: 1, orderType: 0, tif: 1, price: 1_000, qty: 4 });
    await node.close();

    const out = junction('ledger', '--data', data, '--account', String(BUYER), '--json', '--postings', '3');
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    const report = JSON.parse(out.stdout);
    // Bought 4 at 1000 (maker fee 10 bps: 4); the 6 left hold 6_000 + 12 (20 bps) + 6.
    expect(report.balances).toEqual([
      { asset: 'QUOTE', available: 50_000 - 4_004 - 6_018, held: 6_018, availableUnits: '39978', heldUnits: '6018' },
      { asset: 'BASE', available: 4, held: 0, availableUnits: '4', heldUnits: '0' },
    ]);
    expect(report.orders).toEqual([{ orderId: order.orderId, instrument: 'BASE-QUOTE', side: 'buy', price: 1_000, remaining: 6, held: 6_018, asset: 'QUOTE' }]);
    expect(report.postings.map((p: { cause: string; amount: number }) => [p.cause, p.amount])).toEqual([['release', 8], ['fee', 4], ['fill', 4]]);
  });

  it('[OPS-2] names what is wrong with a bad request', () => {
    const missing = junction('ledger', '--account', '1');
    expect([missing.status, missing.stderr.trim()]).toEqual([2, 'usage: junction ledger --data DIR --account N [--postings K] [--json]']);
    const nowhere = junction('ledger', '--data', '/nonexistent/junction', '--account', '1');
    expect([nowhere.status, nowhere.stderr.trim()]).toEqual([1, 'junction ledger: /nonexistent/junction does not exist']);
    const data = mkdtempSync(join(tmpdir(), 'junction-cli-'));
    const empty = junction('ledger', '--data', data, '--account', '1');
    expect([empty.status, empty.stderr.trim()]).toEqual([1, `junction ledger: ${data} holds no node`]);
  });
});
