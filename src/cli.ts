#!/usr/bin/env node
// The `junction` command line: a market maker's view of a running node over the websocket
// protocol, and an operator's view of a data folder. `junction --help` lists the commands;
// `junction COMMAND --help` explains one. Instruments are named by symbol (BTC-USD) or id; prices
// and quantities are decimals in the instrument's own units (--price 95000.5 --qty 0.01), converted
// exactly and checked against the tick, lot and size limits before anything is sent; --raw takes
// and prints the integer wire units instead. Every refusal is printed by name with a sentence.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { JunctionClient, type LocalBook } from './client/client.js';
import { findInstrument, formatPrice, formatQty, fromUnits, type Instrument } from './client/units.js';
import * as sbe from './protocol/codec.js';
import { reasonName, reasonText } from './protocol/reasons.js';
import { ACCOUNT_KIND_NAMES, Bucket, CAUSE_NAMES, type Asset } from './ledger/model.js';
import { decodePostings } from './ledger/postings.js';
import { NodeRuntime } from './pipeline/runtime.js';

const URL_DEFAULT = 'ws://127.0.0.1:8800/ws';
const KEY_FILE_DEFAULT = join('.data', 'demo-keys.json');

/** A usage error: printed with the command's usage, exit code 2. */
class UsageError extends Error {}

const CONNECTION = `  --url URL          the node (default ${URL_DEFAULT}; wss:// with TLS)
  --key-file FILE    API keys, a JSON array of {keyId, privateKeyPem} (default ${KEY_FILE_DEFAULT})
  --key-id N         which key of the file (default the first)
  --json             one JSON object per line
  --raw              prices and quantities in integer wire units, in and out`;

const HELP: Record<string, string> = {
  '': `junction: trade on and inspect a Junction node

usage: junction COMMAND [options]      (junction COMMAND --help for one command)

trading (over the websocket protocol, with an API key):
  order place        enter an order           junction order place --instrument BTC-USD --side buy --price 95000.5 --qty 0.01
  order cancel       cancel one order         junction order cancel --instrument BTC-USD --cl-ord-id 501 | --order-id 42
  order amend        change price and size    junction order amend --instrument BTC-USD --cl-ord-id 501 --price 95001 --qty 0.02
  order mass-cancel  cancel many              junction order mass-cancel [--instrument BTC-USD] [--side buy|sell]
  orders             my open orders
  reports tail       my execution reports as they come (fills of resting orders too)
  balances           my balances, available and held

public market data (no key needed):
  book watch         the order book of an instrument
  trades tail        the trades of an instrument
  instruments        what the node lists: symbols, assets, tick, lot, size limits

operators (reads the node's data folder; safe while it runs):
  ledger             an account's balances, holds and postings

Prices are in the quote asset per one base unit (BTC-USD: USD per BTC), quantities in the base
asset (BTC), as decimals. The demo node (npm start) writes its keys to ${KEY_FILE_DEFAULT}.`,
  order: `usage: junction order place --instrument SYM --side buy|sell --price P --qty Q [--type limit|market] [--tif gtc|ioc|fok|post] [--cl-ord-id N] [--wait MS]
       junction order cancel --instrument SYM (--cl-ord-id N | --order-id N)
       junction order amend --instrument SYM --cl-ord-id N --price P --qty Q
       junction order mass-cancel [--instrument SYM] [--side buy|sell]
A market order needs --price: its protection price, the worst it may trade at. Reports that follow
at once (fills of an aggressive order) are printed too, for --wait ms (default 300).
${CONNECTION}`,
  orders: `usage: junction orders [options]
The account's open orders: client order id (0 if entered by another key), order id, instrument,
side, price and open quantity.
${CONNECTION}`,
  reports: `usage: junction reports tail [--from N] [--count K] [options]
The key's report stream: execution reports, cancel rejects and mass-cancel reports, from outbound
sequence N (default: only new ones), until Ctrl-C or K messages.
${CONNECTION}`,
  balances: `usage: junction balances [options]
The account's balances per asset: available, and held by open orders.
${CONNECTION}`,
  book: `usage: junction book watch --instrument SYM [--levels K] [--count N] [--url URL] [--json] [--raw]
Prints the book after the snapshot and after every update, K levels a side (default 5), until
Ctrl-C or N books.`,
  trades: `usage: junction trades tail --instrument SYM [--count N] [--url URL] [--json] [--raw]
Prints each public trade: price, quantity and the aggressor's side, until Ctrl-C or N trades.`,
  instruments: `usage: junction instruments [--url URL] [--json]
The instruments the node lists, with their assets, scales, tick, lot and size limits.`,
  ledger: `usage: junction ledger --data DIR --account N [--postings K] [--json]
An account's balances (available and held), its open orders with what each holds, and its
latest K postings (default 20), read from the node's LMDB data folder.`,
};

const COMMON: ParseArgsConfig['options'] = {
  url: { type: 'string', default: URL_DEFAULT }, 'key-file': { type: 'string', default: KEY_FILE_DEFAULT }, 'key-id': { type: 'string' },
  json: { type: 'boolean', default: false }, raw: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
};

type Values = Record<string, string | boolean | undefined>;

function parse(command: string, args: string[], options: ParseArgsConfig['options'] = {}): Values {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, strict: true }).values as Values;
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, ''));
  }
}

function str(v: Values, name: string): string | undefined {
  return v[name] as string | undefined;
}

function required(v: Values, name: string, why = ''): string {
  const value = str(v, name);
  if (value === undefined) throw new UsageError(`--${name} is required${why}`);
  return value;
}

function integer(v: Values, name: string): number | undefined {
  const value = str(v, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`--${name} must be a whole number, got ${value}`);
  return Number(value);
}

function print(v: Values, line: Record<string, unknown>): void {
  console.log(v.json ? JSON.stringify(line) : Object.entries(line).filter(([, x]) => x !== undefined).map(([k, x]) => `${k}=${x}`).join(' '));
}

const EXEC_TYPES = ['new', 'partial-fill', 'fill', 'cancelled', 'amended', 'rejected', 'reduced'];
const side = (s: number) => (s === sbe.Side.Buy ? 'buy' : 'sell');

/** Prints prices and quantities as decimals of the instrument (or raw units). */
class Units {
  constructor(private readonly instruments: readonly Instrument[], private readonly raw: boolean) {}
  private of(id: number): Instrument | undefined { return this.instruments.find((i) => i.instrument === id); }
  symbol(id: number): string { return this.of(id)?.symbol ?? String(id); }
  price(id: number, units: number): string | number {
    const i = this.of(id);
    return this.raw || !i ? units : formatPrice(i, units);
  }
  qty(id: number, units: number): string | number {
    const i = this.of(id);
    return this.raw || !i ? units : formatQty(i, units);
  }
}

function streamLine(u: Units, m: sbe.ExecutionReport | sbe.CancelReject | sbe.MassCancelReport): Record<string, unknown> {
  if ('execType' in m) {
    const fill = m.execType === sbe.ExecType.Fill || m.execType === sbe.ExecType.PartialFill;
    return {
      type: 'execution', outSeq: m.outSeq, exec: EXEC_TYPES[m.execType], instrument: u.symbol(m.instrument), side: side(m.side),
      clOrdId: m.clOrdId, orderId: m.orderId, price: u.price(m.instrument, m.price), qty: u.qty(m.instrument, m.qty),
      ...(fill ? { lastPx: u.price(m.instrument, m.lastPx), lastQty: u.qty(m.instrument, m.lastQty), tradeId: m.tradeId } : {}),
      leavesQty: u.qty(m.instrument, m.leavesQty),
      ...(m.execType === sbe.ExecType.Rejected ? { reason: reasonName(m.rejectReason), why: reasonText(m.rejectReason) } : {}),
      ...(m.execType === sbe.ExecType.Cancelled ? { reason: reasonName(m.cancelReason), why: reasonText(m.cancelReason) } : {}),
      ...(m.requestClOrdId ? { requestClOrdId: m.requestClOrdId } : {}),
      transactTimeNs: String(m.transactTimeNs),
    };
  }
  if ('cancelled' in m) {
    return {
      type: 'mass-cancel', outSeq: m.outSeq, clOrdId: m.clOrdId, instrument: m.instrument === 0 ? 'all' : u.symbol(m.instrument),
      side: m.side === sbe.SideFilter.Both ? 'both' : side(m.side), cancelled: m.cancelled,
      ...(m.rejectReason ? { reason: reasonName(m.rejectReason), why: reasonText(m.rejectReason) } : {}),
    };
  }
  return { type: 'cancel-reject', outSeq: m.outSeq, clOrdId: m.clOrdId, origClOrdId: m.origClOrdId, reason: reasonName(m.reason), why: reasonText(m.reason) };
}

/** Connects with a key from a key file (a JSON array of {keyId, privateKeyPem}, as demo-keys.json). */
async function connectWithKey(v: Values): Promise<JunctionClient> {
  const keyFile = str(v, 'key-file')!;
  let keys: { keyId: number; privateKeyPem: string }[];
  try {
    keys = JSON.parse(readFileSync(keyFile, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the key file ${keyFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (give --key-file)' : (e as Error).message}`);
  }
  const keyId = integer(v, 'key-id');
  const key = keyId === undefined ? keys[0] : keys.find((k) => k.keyId === keyId);
  if (!key) throw new Error(`no key ${keyId ?? ''} in ${keyFile}`);
  return JunctionClient.connect({ url: str(v, 'url')!, keyId: key.keyId, privateKeyPem: key.privateKeyPem, reconnect: false });
}

async function withClient<T>(v: Values, run: (client: JunctionClient, u: Units) => Promise<T>): Promise<T> {
  const client = await connectWithKey(v);
  try {
    return await run(client, new Units(client.instruments, Boolean(v.raw)));
  } finally {
    client.close();
  }
}

/** A decimal (or, with --raw, integer units) for the SDK: decimals travel as strings. */
function amount(v: Values, name: string, why: string): string | number {
  const text = required(v, name, why);
  if (!v.raw) return text;
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number of units with --raw, got ${text}`);
  return Number(text);
}

async function order(args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  const v = parse('order', rest, {
    instrument: { type: 'string' }, side: { type: 'string' }, price: { type: 'string' }, qty: { type: 'string' },
    type: { type: 'string', default: 'limit' }, tif: { type: 'string', default: 'gtc' }, 'cl-ord-id': { type: 'string' },
    'order-id': { type: 'string' }, wait: { type: 'string', default: '300' },
  });
  if (v.help) return help('order');
  if (!['place', 'cancel', 'amend', 'mass-cancel'].includes(action)) {
    throw new UsageError(action ? `unknown order action ${action}: place, cancel, amend or mass-cancel` : 'which order action? place, cancel, amend or mass-cancel');
  }
  const sideOf = (name: string | undefined) => {
    const s = { buy: sbe.Side.Buy, sell: sbe.Side.Sell }[name ?? ''];
    if (s === undefined) throw new UsageError(`--side must be buy or sell${name ? `, got ${name}` : ''}`);
    return s;
  };
  return withClient(v, async (client, u) => {
    const stream: (sbe.ExecutionReport | sbe.CancelReject | sbe.MassCancelReport)[] = [];
    client.on('report', (r) => stream.push(r));
    client.on('cancelReject', (r) => stream.push(r));
    client.on('massCancelReport', (r) => stream.push(r));
    const instrumentName = action === 'mass-cancel' ? str(v, 'instrument') : required(v, 'instrument');
    const instrument = instrumentName === undefined ? undefined : client.instrument(instrumentName);
    if (action === 'place') {
      const s = sideOf(str(v, 'side'));
      const tif = { gtc: sbe.TimeInForce.GTC, ioc: sbe.TimeInForce.IOC, fok: sbe.TimeInForce.FOK, post: sbe.TimeInForce.PostOnly }[str(v, 'tif')!];
      if (tif === undefined) throw new UsageError(`--tif must be gtc, ioc, fok or post, got ${str(v, 'tif')}`);
      const ordType = { limit: sbe.OrdType.Limit, market: sbe.OrdType.Market }[str(v, 'type')!];
      if (ordType === undefined) throw new UsageError(`--type must be limit or market, got ${str(v, 'type')}`);
      const price = amount(v, 'price', ordType === sbe.OrdType.Market ? ' (a market order\'s protection price: the worst it may trade at)' : ' (the limit price)');
      const qty = amount(v, 'qty', ' (the quantity)');
      await client.place({
        instrument: instrument!.instrument, side: s, timeInForce: ordType === sbe.OrdType.Market && tif === sbe.TimeInForce.GTC ? sbe.TimeInForce.IOC : tif,
        ordType, price, qty, ...(integer(v, 'cl-ord-id') !== undefined ? { clOrdId: integer(v, 'cl-ord-id') } : {}),
      });
    } else if (action === 'cancel') {
      const clOrdId = integer(v, 'cl-ord-id');
      const orderId = integer(v, 'order-id');
      if ((clOrdId === undefined) === (orderId === undefined)) throw new UsageError('give --cl-ord-id N or --order-id N (see junction orders)');
      if (clOrdId !== undefined) await client.cancel(instrument!.instrument, clOrdId);
      else await client.cancelByOrderId(instrument!.instrument, orderId!);
    } else if (action === 'amend') {
      const clOrdId = integer(v, 'cl-ord-id');
      if (clOrdId === undefined) throw new UsageError('--cl-ord-id is required (the order to amend)');
      await client.amend(instrument!.instrument, clOrdId, amount(v, 'price', ' (the new price; give the same to keep it)'), amount(v, 'qty', ' (the new open quantity)'));
    } else {
      const sideName = str(v, 'side');
      await client.massCancel(instrument?.instrument ?? 0, sideName === undefined ? sbe.SideFilter.Both : sideOf(sideName));
    }
    await new Promise((r) => setTimeout(r, Number(str(v, 'wait'))));
    for (const m of stream) print(v, streamLine(u, m));
    const refused = stream.some((m) => ('execType' in m ? m.execType === sbe.ExecType.Rejected : 'cancelled' in m ? m.rejectReason !== 0 : true));
    return refused ? 1 : 0;
  });
}

async function orders(args: string[]): Promise<number> {
  const v = parse('orders', args);
  if (v.help) return help('orders');
  return withClient(v, async (client, u) => {
    const open = await client.openOrders();
    if (!v.json && open.length === 0) console.log('no open orders');
    for (const o of open) {
      print(v, {
        clOrdId: o.clOrdId, orderId: o.orderId, instrument: u.symbol(o.instrument), side: side(o.side),
        price: u.price(o.instrument, o.price), openQty: u.qty(o.instrument, o.leavesQty),
      });
    }
    return 0;
  });
}

async function balances(args: string[]): Promise<number> {
  const v = parse('balances', args);
  if (v.help) return help('balances');
  return withClient(v, async (client) => {
    for (const b of await client.balances()) {
      print(v, v.raw
        ? { asset: b.asset, available: b.available, held: b.held }
        : { asset: b.asset, available: fromUnits(b.available, b.scale), held: fromUnits(b.held, b.scale) });
    }
    return 0;
  });
}

async function reports(args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  const v = parse('reports', rest, { from: { type: 'string' }, count: { type: 'string' } });
  if (v.help) return help('reports');
  if (action !== 'tail') throw new UsageError(action ? `unknown reports action ${action}: tail` : 'which reports action? tail');
  const limit = integer(v, 'count') ?? Infinity;
  const from = integer(v, 'from');
  return withClient(v, async (client, u) => {
    let seen = 0;
    await new Promise<void>((done) => {
      const show = (m: sbe.ExecutionReport | sbe.CancelReject | sbe.MassCancelReport) => {
        print(v, streamLine(u, m));
        if (++seen >= limit) done();
      };
      client.on('report', show);
      client.on('cancelReject', show);
      client.on('massCancelReport', show);
      client.on('disconnect', () => done());
      process.once('SIGINT', () => done());
      if (from !== undefined) client.replay(from);
    });
    return 0;
  });
}

async function watchMarket(kind: 'book' | 'trades', args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  const v = parse(kind, rest, { instrument: { type: 'string' }, levels: { type: 'string', default: '5' }, count: { type: 'string' } });
  if (v.help) return help(kind);
  const expected = kind === 'book' ? 'watch' : 'tail';
  if (action !== expected) throw new UsageError(action ? `unknown ${kind} action ${action}: ${expected}` : `which ${kind} action? ${expected}`);
  const name = required(v, 'instrument');
  const limit = integer(v, 'count') ?? Infinity;
  const levels = integer(v, 'levels') ?? 5;
  // Market data is public: a client with no key just subscribes.
  const client = await JunctionClient.subscribeOnly(str(v, 'url')!);
  const u = new Units(client.instruments, Boolean(v.raw));
  try {
    const instrument = findInstrument(client.instruments, name).instrument;
    let seen = 0;
    await new Promise<void>((done, fail) => {
      process.once('SIGINT', () => done());
      client.on('disconnect', (code, reason) => fail(new Error(`the node closed the connection (${code} ${reason})`)));
      if (kind === 'book') {
        client.on('book', (b: LocalBook) => {
          const side = (ls: typeof b.bids) => ls.slice(0, levels).map((l) => ({ price: u.price(instrument, l.price), qty: u.qty(instrument, l.qty), count: l.count }));
          const line = { instrument: u.symbol(instrument), bookSeq: b.bookSeq, bids: side(b.bids), asks: side(b.asks) };
          console.log(v.json ? JSON.stringify(line)
            : `${line.instrument} #${b.bookSeq} bids ${line.bids.map((l) => `${l.qty}@${l.price}`).join(' ') || '-'} | asks ${line.asks.map((l) => `${l.qty}@${l.price}`).join(' ') || '-'}`);
          if (++seen >= limit) done();
        });
        client.subscribeBook(instrument).catch(fail);
      } else {
        client.on('trade', (t: sbe.Trade) => {
          print(v, {
            instrument: u.symbol(t.instrument), tradeId: t.tradeId, execTimeNs: String(t.execTimeNs), price: u.price(instrument, t.price),
            qty: u.qty(instrument, t.qty), aggressor: side(t.aggressor),
          });
          if (++seen >= limit) done();
        });
        client.subscribeTrades(instrument).catch(fail);
      }
    });
    return 0;
  } finally {
    client.close();
  }
}

async function instruments(args: string[]): Promise<number> {
  const v = parse('instruments', args);
  if (v.help) return help('instruments');
  const client = await JunctionClient.subscribeOnly(str(v, 'url')!);
  try {
    for (const i of client.instruments) {
      print(v, {
        instrument: i.instrument, symbol: i.symbol, base: i.base, quote: i.quote, baseScale: i.baseScale, quoteScale: i.quoteScale,
        tick: v.raw ? i.tickSize : formatPrice(i, i.tickSize), lot: v.raw ? i.lotSize : formatQty(i, i.lotSize),
        minQty: v.raw ? i.minQty : formatQty(i, i.minQty), maxQty: v.raw ? i.maxQty : formatQty(i, i.maxQty),
      });
    }
    return 0;
  } finally {
    client.close();
  }
}

async function ledger(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { data: { type: 'string' }, account: { type: 'string' }, postings: { type: 'string', default: '20' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  });
  if (values.help) return help('ledger');
  const account = Number(values.account);
  const postingsMax = Number(values.postings);
  if (!values.data || !Number.isInteger(account) || !Number.isInteger(postingsMax) || postingsMax < 0) {
    console.error(HELP.ledger.split('\n')[0]);
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
      return { asset: a.code, available: b.available, held: b.held, availableUnits: fromUnits(b.available, a.scale), heldUnits: fromUnits(b.held, a.scale) };
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

/** The action word (`place`, `watch`, …) and the options after it; none when the first is an option. */
function actionOf(args: string[]): [string, string[]] {
  return args[0] === undefined || args[0].startsWith('-') ? ['', args] : [args[0], args.slice(1)];
}

function help(command: string): number {
  console.log(HELP[command]);
  return 0;
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  order, orders, balances, reports, instruments, ledger,
  book: (args) => watchMarket('book', args),
  trades: (args) => watchMarket('trades', args),
};

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === undefined) {
      console.error(HELP['']);
      return 2;
    }
    return help(rest[0] && HELP[rest[0]] ? rest[0] : '');
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(`junction: unknown command ${command}; junction --help lists them`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`junction ${command}: ${e.message}\n${HELP[command].split('\n').filter((l) => l.startsWith('usage') || l.startsWith('       junction')).join('\n')}`);
      return 2;
    }
    console.error(`junction ${command}: ${(e as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
