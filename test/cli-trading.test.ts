// The `junction` trading commands against a node started as `npm start` starts it.
import { runCli, watchCli } from './support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NODE_JS = join(__dirname, '../dist/src/node.js');
let node: ChildProcess;
let url: string;
let keys: string;

const run = runCli;

beforeAll(async () => {
  const data = mkdtempSync(join(tmpdir(), 'junction-cli-trading-'));
  node = spawn(process.execPath, [NODE_JS, '--data', data, '--port', '0', '--fix-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  it('[OPS-1] places by symbol with decimal price and quantity, shows in the book, trades, and cancels from the command line', async () => {
    const placed = await run(['order', 'place', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', 'BTC-USD', '--side', 'buy',
      '--price', '95000.5', '--qty', '0.0002', '--cl-ord-id', '501', '--json']);
    expect(placed.stderr).toBe('');
    expect(placed.code).toBe(0);
    expect(JSON.parse(placed.stdout.trim().split('\n')[0])).toMatchObject({
      type: 'execution', clOrdId: 501, exec: 'new', instrument: 'BTC-USD', side: 'buy', price: '95000.5', qty: '0.0002', leavesQty: '0.0002',
    });
    // --raw: the same order in integer wire units (micro-USD per BTC, 1e-8 BTC).
    const raw = await run(['orders', '--url', url, '--key-file', keys, '--key-id', '1', '--json', '--raw']);
    expect(JSON.parse(raw.stdout.trim())).toMatchObject({ clOrdId: 501, instrument: 'BTC-USD', side: 'buy', price: 95_000_500_000, openQty: 20_000 });

    const book = await run(['book', 'watch', '--url', url, '--instrument', 'BTC-USD', '--count', '1', '--json']);
    expect(JSON.parse(book.stdout.trim())).toMatchObject({ instrument: 'BTC-USD', bids: [{ price: '95000.5', qty: '0.0002', count: 1 }], asks: [] });

    const tail = watchCli(['trades', 'tail', '--url', url, '--instrument', 'BTC-USD', '--count', '1', '--json']);
    const reports = watchCli(['reports', 'tail', '--url', url, '--key-file', keys, '--key-id', '1', '--count', '1', '--json']);
    await Promise.all([tail.watching, reports.watching]);
    const sold = await run(['order', 'place', '--url', url, '--key-file', keys, '--key-id', '2', '--instrument', 'BTC-USD', '--side', 'sell',
      '--price', '95000.5', '--qty', '0.0001', '--tif', 'ioc', '--json']);
    expect(sold.stdout.trim().split('\n').map((l) => JSON.parse(l).exec)).toEqual(['new', 'fill']);
    const tailed = await tail.done;
    expect(tailed.stderr).toBe("watching BTC-USD's trades (Ctrl-C stops)\n");
    expect(JSON.parse(tailed.stdout.trim())).toMatchObject({ instrument: 'BTC-USD', price: '95000.5', qty: '0.0001', aggressor: 'sell' });
    // The maker hears of the fill of its resting order, entered earlier by another command.
    expect(JSON.parse((await reports.done).stdout.trim())).toMatchObject({ exec: 'partial-fill', clOrdId: 501, lastPx: '95000.5', lastQty: '0.0001', leavesQty: '0.0001' });
    // The trade records (AFMM-3), an operator's listing: both parties, their orders, no AFMM.
    const listed = await run(['trades', 'list', '--url', url, '--key-file', keys, '--key-id', '100', '--instrument', 'BTC-USD', '--json']);
    expect(listed.stderr).toBe('');
    expect(listed.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([{
      instrument: 1, tradeId: 1, ts: expect.any(Number), price: '95000.5', qty: '0.0001', aggressor: 'sell', liquidation: false,
      taker: { account: 11, orderId: expect.any(Number), afmm: false }, maker: { account: 10, orderId: expect.any(Number), afmm: false },
    }]);
    const table = await run(['trades', 'list', '--url', url, '--key-file', keys, '--key-id', '100', '--instrument', 'BTC-USD']);
    expect(table.stdout.split('\n')[0]).toMatch(/^trade +at +price +qty +aggressor +taker +maker +note$/);
    expect(table.stdout.split('\n')[1]).toMatch(/^1 +\d{4}-\d\d-\d\dT[\d:.]+Z +95000\.5 +0\.0001 +sell +11 +10 +-$/);
    const notOperator = await run(['trades', 'list', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', 'BTC-USD']);
    expect(notOperator).toEqual({ code: 1, stdout: '', stderr: "junction trades: refused: OperatorOnly (217): only an operator API key may send this [templateId: needs an operator key; this key's permission is trade]\n" });

    const cancelled = await run(['order', 'cancel', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', 'BTC-USD', '--cl-ord-id', '501', '--json']);
    expect(JSON.parse(cancelled.stdout.trim())).toMatchObject({ clOrdId: 501, exec: 'cancelled', leavesQty: '0', reason: 'User', why: 'cancelled at your request' });
    const again = await run(['order', 'cancel', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', 'BTC-USD', '--cl-ord-id', '501', '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout.trim())).toMatchObject({ type: 'cancel-reject', origClOrdId: 501, reason: 'UnknownOrder', why: 'the order is not open (filled, cancelled, or not yours)' });
  });

  it('[OPS-1] [SL-10] cancels by order id, mass-cancels with a count, shows balances, and names every refusal', async () => {
    const place = (price: string, clOrdId: string) => run(['order', 'place', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', 'ETH-USD',
      '--side', 'sell', '--price', price, '--qty', '0.5', '--cl-ord-id', clOrdId, '--json']);
    const a = JSON.parse((await place('3600', '601')).stdout.trim());
    await place('3601', '602');
    await place('3602', '603');
    const byId = await run(['order', 'cancel', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', 'ETH-USD', '--order-id', String(a.orderId), '--json']);
    expect(JSON.parse(byId.stdout.trim())).toMatchObject({ exec: 'cancelled', clOrdId: 601, orderId: a.orderId });
    const balances = await run(['balances', '--url', url, '--key-file', keys, '--key-id', '1', '--json']);
    // The market maker was funded with 1,000 ETH; two sells of 0.5 are held.
    expect(balances.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((b) => b.asset === 'ETH')).toEqual({ asset: 'ETH', available: '999', held: '1' });
    const mass = await run(['order', 'mass-cancel', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', 'ETH-USD', '--side', 'sell', '--json']);
    const lines = mass.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['execution', 'execution', 'mass-cancel']);
    expect(lines[2]).toMatchObject({ instrument: 'ETH-USD', side: 'sell', cancelled: 2 });
    expect((await run(['orders', '--url', url, '--key-file', keys, '--key-id', '1'])).stdout.trim()).toBe('no open orders');
    // The client (key 2) may not enter an order above its notional limit: the node says so by name.
    const big = await run(['order', 'place', '--url', url, '--key-file', keys, '--key-id', '2', '--instrument', 'BTC-USD', '--side', 'buy', '--price', '95000', '--qty', '99']);
    expect(big.code).toBe(1);
    expect(big.stdout).toContain('exec=rejected');
    expect(big.stdout).toContain("reason=NotionalLimit why=the order's notional is above the account's limit");
    // Off the lot with --raw: the node names the real cause, not the notional.
    const offLot = await run(['order', 'place', '--url', url, '--key-file', keys, '--key-id', '1', '--instrument', '2', '--side', 'sell', '--price', '3500000000', '--qty', '1', '--raw', '--json']);
    expect(JSON.parse(offLot.stdout.trim())).toMatchObject({ exec: 'rejected', reason: 'QuantityOffLot' });
  });

  it('[OPS-1] says what is wrong: bad input before anything is sent, an unknown instrument, no node, the wrong path, an unknown command', async () => {
    const order = ['order', 'place', '--url', url, '--key-file', keys, '--instrument', 'BTC-USD', '--side', 'buy'];
    const offTick = await run([...order, '--price', '95000.005', '--qty', '0.01']);
    expect([offTick.code, offTick.stderr.trim()]).toEqual([1, "junction order: price 95000.005 is not on BTC-USD's tick of 0.01 USD"]);
    const offLot = await run([...order, '--price', '95000', '--qty', '0.00015']);
    expect([offLot.code, offLot.stderr.trim()]).toEqual([1, "junction order: quantity 0.00015 is not a whole number of BTC-USD's lot of 0.0001 BTC"]);
    const precise = await run([...order, '--price', '95000.0000001', '--qty', '0.01']);
    expect(precise.stderr.trim()).toBe('junction order: price 95000.0000001 has more decimal places than 6 (the smallest unit is 0.000001 USD)');
    const noPrice = await run(['order', 'place', '--url', url, '--key-file', keys, '--instrument', 'BTC-USD', '--side', 'buy', '--type', 'market', '--qty', '0.01']);
    expect(noPrice.code).toBe(2);
    expect(noPrice.stderr.split('\n')[0]).toBe("junction order: --price is required (a market order's protection price: the worst it may trade at)");
    const badSide = await run([...order.slice(0, -1), 'up', '--price', '1', '--qty', '1']);
    expect([badSide.code, badSide.stderr.split('\n')[0]]).toEqual([2, 'junction order: --side must be buy or sell, got up']);
    // A price source's key never logs on for a command: it would take over the source's own session.
    const source = await run(['balances', '--url', url, '--key-file', keys, '--key-id', '201']);
    expect([source.code, source.stderr.split('\n')[0]]).toEqual([2, "junction balances: key 201 is a price-source key: it only sends index prices, and logging on with it would displace the source's session; use a trade, read or operator key"]);
    const unknown = await run(['book', 'watch', '--url', url, '--instrument', 'DOGE-USD']);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'junction book: no instrument DOGE-USD; the node lists BTC-USD (1), ETH-USD (2), BTC-PERP (3), ETH-PERP (4)']);
    const port = new URL(url).port;
    const nowhere = await run(['trades', 'tail', '--url', 'ws://127.0.0.1:1/ws', '--instrument', '1']);
    expect(nowhere.stderr.trim()).toBe('junction trades: no node answers at ws://127.0.0.1:1/ws (connection refused): is it running, and on this port?');
    const wrongPath = await run(['trades', 'tail', '--url', `ws://127.0.0.1:${port}/`, '--instrument', '1']);
    expect(wrongPath.stderr.trim()).toBe(`junction trades: ws://127.0.0.1:${port}/ answered HTTP 200, not the Junction protocol, which is served at the path /ws (e.g. ws://127.0.0.1:8800/ws)`);
    const what = await run(['frob']);
    expect([what.code, what.stderr.trim()]).toEqual([2, 'junction: unknown command frob; junction --help lists them']);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('order place        enter an order');
    const orderHelp = await run(['order', '--help']);
    expect(orderHelp.stdout.split('\n')[0]).toBe('usage: junction order place --instrument SYM --side buy|sell --price P --qty Q [--type limit|market] [--tif gtc|ioc|fok|post] [--reduce-only] [--cl-ord-id N] [--wait MS]');
  });
});
