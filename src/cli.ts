#!/usr/bin/env node
// The `junction` command line for operators and users.
//   junction ledger --data DIR --account N [--postings K] [--json]
//     the account's balances (available and held), its open orders with what each holds, and its
//     latest postings, read from the node's LMDB data folder (safe while the node runs: LMDB
//     readers do not block the writer).
//   junction order place|cancel|amend --url URL --key-file FILE [--key-id N] ... [--json]
//   junction book watch --url URL --instrument N [--levels K] [--json]
//   junction trades tail --url URL --instrument N [--json]
//     a market maker's view of a running node over the websocket protocol; the demo keys are in
//     DATA/demo-keys.json.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { JunctionClient, type LocalBook } from './client/client.js';
import * as sbe from './protocol/codec.js';
import { ACCOUNT_KIND_NAMES, Bucket, CAUSE_NAMES, type Asset } from './ledger/model.js';
import { decodePostings } from './ledger/postings.js';
import { NodeRuntime } from './pipeline/runtime.js';

const USAGE = 'usage: junction ledger --data DIR --account N [--postings K] [--json]';
const ORDER_USAGE = 'usage: junction order place --url URL --key-file FILE [--key-id N] --instrument N --side buy|sell --price P --qty Q [--type limit|market] [--tif gtc|ioc|fok|post] [--cl-ord-id N] [--json]\n'
  + '       junction order cancel --url URL --key-file FILE [--key-id N] --instrument N --cl-ord-id N [--json]\n'
  + '       junction order amend --url URL --key-file FILE [--key-id N] --instrument N --cl-ord-id N --price P --qty Q [--json]';
const BOOK_USAGE = 'usage: junction book watch --url URL --instrument N [--levels K] [--json]';
const TRADES_USAGE = 'usage: junction trades tail --url URL --instrument N [--json]';

const EXEC_TYPES = ['new', 'partial-fill', 'fill', 'cancelled', 'amended', 'rejected', 'reduced'];

function reportLine(m: sbe.ExecutionReport | sbe.CancelReject): Record<string, unknown> {
  if ('execType' in m) {
    return {
      type: 'execution', outSeq: m.outSeq, clOrdId: m.clOrdId, orderId: m.orderId, instrument: m.instrument, exec: EXEC_TYPES[m.execType],
      side: m.side === 0 ? 'buy' : 'sell', price: m.price, qty: m.qty, lastPx: m.lastPx, lastQty: m.lastQty, leavesQty: m.leavesQty,
      ...(m.execType === sbe.ExecType.Rejected ? { rejectReason: m.rejectReason } : {}), transactTimeNs: String(m.transactTimeNs),
    };
  }
  return { type: 'cancel-reject', outSeq: m.outSeq, clOrdId: m.clOrdId, origClOrdId: m.origClOrdId, reason: m.reason };
}

function print(json: boolean, line: Record<string, unknown>): void {
  console.log(json ? JSON.stringify(line) : Object.entries(line).map(([k, v]) => `${k}=${v}`).join(' '));
}

/** Connects with a key from a key file (a JSON array of {keyId, privateKeyPem}, as demo-keys.json). */
async function connectWithKey(url: string | undefined, keyFile: string | undefined, keyId: string | undefined): Promise<JunctionClient> {
  if (!url || !keyFile) throw new Error('--url and --key-file are required');
  const keys = JSON.parse(readFileSync(keyFile, 'utf8')) as { keyId: number; privateKeyPem: string }[];
  const key = keyId === undefined ? keys[0] : keys.find((k) => k.keyId === Number(keyId));
  if (!key) throw new Error(`no key ${keyId ?? ''} in ${keyFile}`);
  return JunctionClient.connect({ url, keyId: key.keyId, privateKeyPem: key.privateKeyPem, reconnect: false });
}

async function order(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values: v } = parseArgs({
    args: rest,
    options: {
      url: { type: 'string' }, 'key-file': { type: 'string' }, 'key-id': { type: 'string' }, instrument: { type: 'string' },
      side: { type: 'string' }, price: { type: 'string' }, qty: { type: 'string' }, type: { type: 'string', default: 'limit' },
      tif: { type: 'string', default: 'gtc' }, 'cl-ord-id': { type: 'string' }, json: { type: 'boolean', default: false },
      wait: { type: 'string', default: '300' },
    },
  });
  const int = (name: string, value: string | undefined): number => {
    const n = Number(value);
    if (value === undefined || !Number.isSafeInteger(n)) throw new Error(`--${name} must be an integer`);
    return n;
  };
  if (!['place', 'cancel', 'amend'].includes(action)) {
    console.error(ORDER_USAGE);
    return 2;
  }
  const instrument = int('instrument', v.instrument);
  const client = await connectWithKey(v.url, v['key-file'], v['key-id']);
  try {
    const reports: (sbe.ExecutionReport | sbe.CancelReject)[] = [];
    client.on('report', (r) => reports.push(r));
    client.on('cancelReject', (r) => reports.push(r));
    if (action === 'place') {
      const side = { buy: sbe.Side.Buy, sell: sbe.Side.Sell }[v.side ?? ''];
      const tif = { gtc: sbe.TimeInForce.GTC, ioc: sbe.TimeInForce.IOC, fok: sbe.TimeInForce.FOK, post: sbe.TimeInForce.PostOnly }[v.tif!];
      const ordType = { limit: sbe.OrdType.Limit, market: sbe.OrdType.Market }[v.type!];
      if (side === undefined || tif === undefined || ordType === undefined) throw new Error('--side buy|sell, --tif gtc|ioc|fok|post, --type limit|market');
      await client.place({
        instrument, side, timeInForce: tif, ordType, price: int('price', v.price), qty: int('qty', v.qty),
        ...(v['cl-ord-id'] ? { clOrdId: int('cl-ord-id', v['cl-ord-id']) } : {}),
      });
    } else if (action === 'cancel') {
      await client.cancel(instrument, int('cl-ord-id', v['cl-ord-id']));
    } else {
      await client.amend(instrument, int('cl-ord-id', v['cl-ord-id']), int('price', v.price), int('qty', v.qty));
    }
    // Reports that follow at once (fills of an aggressive order) are printed too.
    await new Promise((r) => setTimeout(r, Number(v.wait)));
    for (const r of reports) print(v.json!, reportLine(r));
    return reports.some((r) => ('execType' in r ? r.execType === sbe.ExecType.Rejected : true)) ? 1 : 0;
  } finally {
    client.close();
  }
}

async function watchMarket(kind: 'book' | 'trades', args: string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values: v } = parseArgs({
    args: rest,
    options: {
      url: { type: 'string' }, instrument: { type: 'string' }, levels: { type: 'string', default: '5' }, json: { type: 'boolean', default: false },
      count: { type: 'string' },
    },
  });
  const instrument = Number(v.instrument);
  if (action !== (kind === 'book' ? 'watch' : 'tail') || !v.url || !Number.isInteger(instrument) || instrument <= 0) {
    console.error(kind === 'book' ? BOOK_USAGE : TRADES_USAGE);
    return 2;
  }
  // Market data is public: a client with no key just subscribes.
  const client = await JunctionClient.subscribeOnly(v.url);
  const limit = v.count === undefined ? Infinity : Number(v.count);
  let seen = 0;
  await new Promise<void>((done) => {
    const stop = () => {
      client.close();
      done();
    };
    process.once('SIGINT', stop);
    if (kind === 'book') {
      const levels = Number(v.levels);
      client.on('book', (b: LocalBook) => {
        const line = { instrument, bookSeq: b.bookSeq, bids: b.bids.slice(0, levels), asks: b.asks.slice(0, levels) };
        console.log(v.json ? JSON.stringify(line) : `#${b.bookSeq} bids ${line.bids.map((l) => `${l.qty}@${l.price}`).join(' ')} | asks ${line.asks.map((l) => `${l.qty}@${l.price}`).join(' ')}`);
        if (++seen >= limit) stop();
      });
      client.subscribeBook(instrument);
    } else {
      client.on('trade', (t: sbe.Trade) => {
        print(v.json!, { instrument: t.instrument, tradeId: t.tradeId, execTimeNs: String(t.execTimeNs), price: t.price, qty: t.qty, aggressor: t.aggressor === 0 ? 'buy' : 'sell' });
        if (++seen >= limit) stop();
      });
      client.subscribeTrades(instrument);
    }
  });
  return 0;
}

function decimal(units: number, scale: number): string {
  const negative = units < 0;
  const digits = String(Math.abs(units)).padStart(scale + 1, '0');
  const whole = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${whole}` : whole;
}

async function ledger(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: 'string' }, account: { type: 'string' }, postings: { type: 'string', default: '20' }, json: { type: 'boolean', default: false } },
  });
  const account = Number(values.account);
  const postingsMax = Number(values.postings);
  if (!values.data || !Number.isInteger(account) || !Number.isInteger(postingsMax) || postingsMax < 0) {
    console.error(USAGE);
    return 2;
  }
  const node = await NodeRuntime.inspect(values.data);
  try {
    const info = node.ledger.accounts.get(account);
    if (!info) {
      console.error(`account ${account} does not exist in ${values.data}`);
      return 1;
    }
    const assets: Asset[] = node.ledger.assets;
    const balances = assets.map((a, i) => {
      const b = node.ledger.balance(account, i);
      return { asset: a.code, available: b.available, held: b.held, availableUnits: decimal(b.available, a.scale), heldUnits: decimal(b.held, a.scale) };
    }).filter((b) => b.available !== 0 || b.held !== 0);
    const orders = [...node.pipeline.orders.values()].filter((o) => o.account === account).map((o) => ({
      orderId: o.id, instrument: node.ledger.instruments.get(o.instrument)!.symbol, side: o.side === 0 ? 'buy' : 'sell',
      price: o.limit, remaining: o.remaining, held: o.held, asset: assets[o.asset].code,
    }));
    const postings: object[] = [];
    for (const { value } of node.store.postingsNewestFirst()) {
      const batch = decodePostings(value).filter((p) => p.debitAccount === account || p.creditAccount === account);
      for (let i = batch.length - 1; i >= 0 && postings.length < postingsMax; i--) {
        const p = batch[i];
        postings.push({
          id: p.id, seq: p.seq, cause: CAUSE_NAMES[p.cause], asset: assets[p.asset].code, amount: p.amount,
          debit: `${p.debitAccount}/${p.debitBucket === Bucket.Held ? 'held' : 'available'}`,
          credit: `${p.creditAccount}/${p.creditBucket === Bucket.Held ? 'held' : 'available'}`,
        });
      }
      if (postings.length >= postingsMax) break;
    }
    if (values.json) {
      console.log(JSON.stringify({ account, kind: ACCOUNT_KIND_NAMES[info.kind], participant: info.participant, balances, orders, postings }));
    } else {
      console.log(`account ${account} (${ACCOUNT_KIND_NAMES[info.kind]}, participant ${info.participant}) at sequence ${node.lastSequence}`);
      console.log('\nbalances');
      console.table(balances.map((b) => ({ asset: b.asset, available: b.availableUnits, held: b.heldUnits })));
      console.log('\nopen orders (what each holds)');
      console.table(orders);
      console.log(`\nlatest ${postings.length} postings`);
      console.table(postings);
    }
    return 0;
  } finally {
    await node.store.close();
  }
}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  try {
    switch (command) {
      case 'ledger': return await ledger(rest);
      case 'order': return await order(rest);
      case 'book': return await watchMarket('book', rest);
      case 'trades': return await watchMarket('trades', rest);
      default:
        console.error([USAGE, ORDER_USAGE, BOOK_USAGE, TRADES_USAGE].join('\n'));
        return 2;
    }
  } catch (e) {
    console.error(`junction ${command}: ${(e as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
