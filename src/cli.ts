#!/usr/bin/env node
// The `junction` command line: a market maker's view of a running node over the websocket
// protocol, and an operator's view of a data folder. `junction --help` lists the commands;
// `junction COMMAND --help` explains one. Instruments are named by symbol (BTC-USD) or id; prices
// and quantities are decimals in the instrument's own units (--price 95000.5 --qty 0.01), converted
// exactly and checked against the tick, lot and size limits before anything is sent; --raw takes
// and prints the integer wire units instead. Operators keep the venue registry and venue clients'
// custody (`junction venue`, `junction jurisdiction`) with an operator API key. `junction account`
// shows an account's perpetual figures, `junction perps market` each perpetual's reference prices,
// funding, insurance fund and ADL distribution, `junction perps reports` the post-event reports.
// `junction afmm` designates affiliated market makers and changes their disclosed preferences (each
// change approved by a second operator); `junction audit` lists that trail. Every refusal is printed
// by name with a sentence.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { JunctionClient, type LocalBook, type PerpAccountFigures, type PerpReportBody } from './client/client.js';
import { findInstrument, formatPrice, formatQty, fromUnits, toUnits, type Instrument } from './client/units.js';
import * as sbe from './protocol/codec.js';
import { reasonName, reasonText } from './protocol/reasons.js';
import { ACCOUNT_KIND_NAMES, Bucket, CAUSE_NAMES, type Asset } from './ledger/model.js';
import { decodePostings } from './ledger/postings.js';
import { NodeRuntime, type NodeConfig } from './pipeline/runtime.js';
import { LedgerStore } from './ledger/store.js';
import { newApiKeyPair } from './gateway/ws/auth.js';
import { KeyStore, PERMISSIONS, type Permission } from './gateway/ws/key-store.js';
import { stressCommand } from './perps/stress.js';

const URL_DEFAULT = 'ws://127.0.0.1:8800/ws';
const KEY_FILE_DEFAULT = join('.data', 'demo-keys.json');

/** A usage error: printed with the command's usage, exit code 2. */
class UsageError extends Error {}

const CONNECTION = `  --url URL          the node (default ${URL_DEFAULT}; wss:// with TLS)
  --key-file FILE    API keys, a JSON array of {keyId, privateKeyPem} (default ${KEY_FILE_DEFAULT})
  --key-id N         which key of the file (default the first)
  --json             one JSON object per line
  --raw              prices and quantities in integer wire units, in and out`;

const OPERATOR_CONNECTION = `  --url URL          the node (default ${URL_DEFAULT}; wss:// with TLS)
  --key-file FILE    API keys, a JSON array of {keyId, privateKeyPem} (default ${KEY_FILE_DEFAULT})
  --key-id N         which key of the file (default the first): an operator key
  --json             one JSON object per line`;

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
  account            my perpetual figures: equity, margins, positions with PnL and liquidation price

public market data (no key needed):
  book watch         the order book of an instrument
  trades tail        the trades of an instrument
  instruments        what the node lists: symbols, assets, tick, lot, size limits
  perps market       each perpetual's mark, index and its sources, funding, open interest, insurance fund, ADL distribution

operators (over the websocket protocol, with an operator API key):
  venue list         venues: standing, eligibility now, clients
  venue add          add a venue (a JSON file)  junction venue add --file venue.json
  venue update       change a venue's fields    junction venue update --venue venue-sg --set feeTier=1
  venue suspend      suspend a venue            junction venue suspend --venue venue-sg --reason "licence review"
  venue reinstate    reinstate a venue that qualifies
  venue events       who changed what, when     junction venue events [--venue venue-sg]
  venue clients      a venue's clients, accounts and balances
  venue client-add   add a venue client         junction venue client-add --venue venue-sg --client C1
  venue attest       custody attestation: fund a venue client (venue release: give back)
  venue dues         what custody locations owe each other, gross and net
  jurisdiction list  the jurisdiction table
  jurisdiction set   add or reassess a jurisdiction (a JSON file or flags)

operators (reads the node's data folder; safe while it runs):
  ledger             an account's balances, holds and postings
  keys               list, add and revoke API keys (trade, read, operator, price-source)

operators, with an operator key (also: junction venue, junction jurisdiction):
  settlement status  each venue's unsettled exposure against its limit, the reserve fund
  rulebook           the rulebook of the shared order book, as the node runs it (any key)
  perps reports      post-event reports of liquidations: backstop, insurance fund depleted, ADL (any key)
  afmm               affiliated market makers: designate, set preferences, approve a change; list (any key)
  audit              every AFMM change: who proposed, who approved or rejected, when, what
  trades list        the trade records: parties, orders, AFMM flags, liquidations   junction trades list --instrument BTC-USD
  compensation       compensation arrangements for settlement assets, and the minimum cover

Prices are in the quote asset per one base unit (BTC-USD: USD per BTC), quantities in the base
asset (BTC), as decimals. The demo node (npm start) writes its keys to ${KEY_FILE_DEFAULT}.`,
  order: `usage: junction order place --instrument SYM --side buy|sell --price P --qty Q [--type limit|market] [--tif gtc|ioc|fok|post] [--reduce-only] [--cl-ord-id N] [--wait MS]
       junction order cancel --instrument SYM (--cl-ord-id N | --order-id N)
       junction order amend --instrument SYM --cl-ord-id N --price P --qty Q
       junction order mass-cancel [--instrument SYM] [--side buy|sell]
A market order needs --price: its protection price, the worst it may trade at. A perpetual's order
may add --reduce-only: it may only shrink the position. Reports that follow at once (fills of an
aggressive order) are printed too, for --wait ms (default 300).
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
  account: `usage: junction account [--wait MS] [options]
The account's perpetual figures as the node sends them at logon: equity (collateral at par less
haircut, plus unrealized PnL, less what it owes), initial and maintenance margin, what is available,
the margin ratio (maintenance ÷ equity: 100% is the liquidation line), and each position: size,
entry price, mark, notional, unrealized and realized PnL, funding, margins, liquidation price and
auto-deleveraging rank (1 last to 5 first).
Amounts in the settlement asset; --json prints one JSON line. Waits at most --wait ms (default
5000) for the figures.
${CONNECTION}`,
  perps: `usage: junction perps market [--instrument SYM] [--url URL] [--json] [--raw]
       junction perps reports [--since SEQ] [--json] [connection options]
       junction perps stress --scenario FILE [--json]
  operators (an operator key; sequenced and audited):
       junction perps assess --participant N --professional yes|no --assessor TEXT --assessed-on YYYY-MM-DD --expires YYYY-MM-DD --result pass|fail
       junction perps collateral --asset CODE --kind fiat|stablecoin|tokenized-deposit --haircut-bps N --status active|suspended
       junction perps backstop --account N --capacity AMOUNT --status active|suspended     (AMOUNT in the settlement asset)
       junction perps set --instrument SYM --set field=value [--set ...]                   (e.g. --set liquidationImpactBps=300)
stress replays a scenario (each price source's prices over time, trades on the platform's own books,
accounts with their positions) through the node's own index, mark and margin, in memory, and prints
the paths and which accounts would be liquidated. scenarios/ ships three: manipulated-source.json,
stale-source.json, thin-book-flash-crash.json.
market: 
Each perpetual's PerpMarket (or one's, with --instrument): mark and index, whether the index is
degraded or the mark clamped by its circuit breaker, the mark's inputs (funding basis, moving
basis, last trade), each index source's price, age and status (used, stale, outlier, none), the
last and predicted funding rates per interval, the next funding time, open interest, the insurance
fund's level (one fund for every perpetual; DEPLETED at or below its floor) and how many long and
short positions are in each auto-deleveraging quintile (5: deleveraged first). One JSON line per
perpetual with --json.
reports:
The post-event reports the node keeps (after node sequence --since): whenever a liquidation needed a
backstop provider, depleted the insurance fund or auto-deleveraged positions, what happened: the
products' marks, indexes and sources then, the positions liquidated (without identities), each
step of the waterfall, the fund before and after. One paragraph per report, or with --json the
report as the node publishes it, one per line. Any API key may read them.
${CONNECTION}`,
  book: `usage: junction book watch --instrument SYM [--levels K] [--count N] [--url URL] [--json] [--raw]
Prints the book after the snapshot and after every update, K levels a side (default 5), until
Ctrl-C or N books.`,
  trades: `usage: junction trades tail --instrument SYM [--count N] [--url URL] [--json] [--raw]
       junction trades list --instrument SYM [--last N] [--before TRADE_ID] [--json] [--raw]
tail: prints each public trade — price, quantity, the aggressor's side — until Ctrl-C or N trades.
list (operator keys): the node's trade records, newest first (the last N, default 100, at most
1,000; --before pages back): time, price, quantity, aggressor, both parties' accounts and orders,
which were affiliated market makers when the trade was made (AFMM-3), liquidation orders.
${OPERATOR_CONNECTION}`,
  instruments: `usage: junction instruments [--url URL] [--json]
The instruments the node lists, with their assets, scales, tick, lot and size limits.`,
  rulebook: `usage: junction rulebook [--json]
The rulebook of the shared order book (SL-9), built from the parameters the node runs on, with
its version (a hash of its content): parties, roles and liabilities; pre-funding and custody;
instructions; execution; settlement; default management. Any API key may read it.
${CONNECTION}`,
  settlement: `usage: junction settlement status [--json]
       junction settlement batches
       junction settlement confirm --batch ID --leg N --reference TEXT
       junction settlement fail --batch ID --reason TEXT
       junction settlement config --intraday-minutes N --daily-cutoff HH:MM --deadline-minutes N
       junction settlement statement --venue CODE [--csv]
Settlement risk as the node holds it: per venue, its unsettled exposure (what its custody owes
other locations, plus its clients' open orders at their worst case, valued at the reference
prices) against its limit (SL-15); the reserve fund against the sum of the limits and the
expected exposure (SL-17); compensation coverage in force against the minimum (SL-18).
batches lists the settlement batches leg by leg (SL-11): a batch settles when every leg is
confirmed by its custodian (confirm); one not settled by its deadline fails and its venue
defaults (fail declares it so at once). config sets the cycles (SL-14): intraday every N minutes
(0: none) and the daily cut-off in Hong Kong time, each batch with its deadline. statement is a
venue's legs per cycle (what it delivers and receives, confirmed or not) and its claims, as JSON
or CSV.
${CONNECTION}`,
  compensation: `usage: junction compensation list
       junction compensation set --file ARRANGEMENT.json
       junction compensation minimum --asset A --amount UNITS
Compensation arrangements for settlement assets (SL-18). ARRANGEMENT.json: id, kind (insurer or
scheme), provider, policyId, assets (the settlement assets it covers), coverage and coverageAsset,
expires (its last day, YYYY-MM-DD). Coverage in force below the minimum, or a lapsed policy, is
recorded as an alert (junction venue events).
${CONNECTION}`,
  venue: `usage: junction venue list [--venue CODE]
       junction venue add --file VENUE.json
       junction venue update --venue CODE --set FIELD=VALUE [--set FIELD=VALUE ...]
       junction venue suspend --venue CODE --reason TEXT
       junction venue reinstate --venue CODE
       junction venue events [--venue CODE] [--count N]
       junction venue clients --venue CODE
       junction venue client-add --venue CODE --client ID
       junction venue attest --venue CODE --client ID --asset A --amount UNITS --id ID
       junction venue release --venue CODE --client ID --asset A --amount UNITS --id ID
       junction venue dues
The venue registry (SL-7) and venue clients' custody (SL-8). Listings are read at once; a change is
sequenced and journaled under the operator key's id, and answered once durable. VENUE.json holds
every field of a venue: code, name, legalEntity, group, affiliated, jurisdiction, regulator,
licenceId, licenceExpires, custody, senderCompId, targetCompId, publicKey (Ed25519, base64),
cancelOnDisconnect, clientOrdersMax, feeTier, unsettledLimit (SL-15: what it may owe, its clients'
open orders counted at their worst case) and unsettledLimitAsset. A --set VALUE is read as JSON
when it parses (1, true, "text") and as text otherwise. Amounts are whole ledger units of the asset. --id names an
attestation or release: the same id again changes nothing.
${OPERATOR_CONNECTION}`,
  jurisdiction: `usage: junction jurisdiction list
       junction jurisdiction set --file JURISDICTION.json
       junction jurisdiction set --code SG --name NAME --fatf member|fsrb-member|none [--fsrb APG] --fatf-consistent yes|no --iosco-consistent yes|no --assessed-on YYYY-MM-DD --source TEXT
The jurisdictions venues are licensed in, and how each is assessed against FATF's and IOSCO's
recommendations (SL-7). Setting one re-evaluates every venue in it: a venue that no longer qualifies
is suspended.
${OPERATOR_CONNECTION}`,
  keys: `usage: junction keys list --data DIR [--json]
       junction keys add --data DIR --key-id N --permission trade|read|operator|price-source [--account A] [--person NAME] [--public-key BASE64] [--out FILE]
       junction keys revoke --data DIR --key-id N
API keys of a node's data folder (safe while it runs). add makes a new Ed25519 pair unless
--public-key is given, and prints the key (with its private key) as JSON, or writes it to FILE
(mode 600) as a key file the other commands read with --key-file. A trade or read key acts for
--account; an operator key administers the node and never trades, and names the person who holds
it (--person: an AFMM change proposed by one person must be approved by another); a price-source key sends signed
index prices (PriceUpdate; a perpetual product lists it among its sources) and never trades.
revoke refuses the key's next logon.`,
  afmm: `usage: junction afmm list
       junction afmm designate --participant N --officer TEXT
       junction afmm revoke --participant N --reason TEXT
       junction afmm entry --participant N --id ID --kind fee --fee-tier T --risk-text TEXT
       junction afmm entry --participant N --id ID --kind rate-limit --orders-per-second R --risk-text TEXT
       junction afmm entry --participant N --id ID --remove
       junction afmm approve --change N
       junction afmm reject --change N --reason TEXT
Affiliated market makers (AFMM-1..5). designate, revoke and entry propose a change; it takes effect
only when another operator key approves it (approve --change N, N as the proposal printed), or is
dropped by reject. An AFMM may be given only a fee tier of its own or an order rate limit, each
with the risk it carries in words (--risk-text), disclosed to everyone (list, any key); order types,
the public book and latency are everyone's. The house account never trades with an AFMM.
${OPERATOR_CONNECTION}`,
  audit: `usage: junction audit [--last N] [--json]
Every change to affiliated market makers (AFMM-5), oldest first (the last N, default 200): change
id, when, what happened (proposed, approved, rejected), which operator key, what the change was;
then the changes awaiting a second operator.
${OPERATOR_CONNECTION}`,
  ledger: `usage: junction ledger --data DIR --account N [--postings K] [--json]
An account's balances (available and held), its open orders with what each holds, and its
latest K postings (default 20), read from the node's LMDB data folder.`,
};

const COMMON: ParseArgsConfig['options'] = {
  url: { type: 'string', default: URL_DEFAULT }, 'key-file': { type: 'string', default: KEY_FILE_DEFAULT }, 'key-id': { type: 'string' },
  json: { type: 'boolean', default: false }, raw: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
};

type Values = Record<string, string | boolean | string[] | undefined>;

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
/** Which parties of a trade were affiliated market makers (AfmmSide). */
const AFMM_SIDES = ['none', 'maker', 'taker', 'both'];
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
  let keys: { keyId: number; privateKeyPem: string; permission?: string }[];
  try {
    keys = JSON.parse(readFileSync(keyFile, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the key file ${keyFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (give --key-file)' : (e as Error).message}`);
  }
  const keyId = integer(v, 'key-id');
  const key = keyId === undefined ? keys[0] : keys.find((k) => k.keyId === keyId);
  if (!key) throw new Error(`no key ${keyId ?? ''} in ${keyFile}`);
  // A key logs on once at a time: a command logged on with a price source's key would take over the
  // source's own session (and the index would lose it). Nothing here is for such a key anyway.
  if (key.permission === 'price-source') {
    throw new UsageError(`key ${key.keyId} is a price-source key: it only sends index prices, and logging on with it would displace the source's session; use a trade, read or operator key`);
  }
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
    'order-id': { type: 'string' }, wait: { type: 'string', default: '300' }, 'reduce-only': { type: 'boolean', default: false },
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
        ...(v['reduce-only'] ? { reduceOnly: true } : {}),
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
    const all = await client.balances();
    // Nothing held at all: said (not an empty screen), except in --json, which lists what there is.
    if (all.length === 0 && !v.json) console.log(`no balances: account ${client.logonAck?.account} holds nothing`);
    for (const b of all) {
      print(v, v.raw
        ? { asset: b.asset, available: b.available, held: b.held }
        : { asset: b.asset, available: fromUnits(b.available, b.scale), held: fromUnits(b.held, b.scale) });
    }
    return 0;
  });
}

const OWN_NOTICES: Partial<Record<number, string>> = { [sbe.PerpNoticeKind.Liquidated]: 'liquidated', [sbe.PerpNoticeKind.Deleveraged]: 'deleveraged', [sbe.PerpNoticeKind.BackstopAssigned]: 'backstop' };

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
      // What a liquidation did to this account's perpetual position (to it alone; PERP-10).
      client.on('perpNotice', (n: sbe.PerpNotice) => {
        const kind = OWN_NOTICES[n.kind];
        if (kind) print(v, { type: 'notice', kind, seq: n.seq, at: new Date(Number(n.asOfNs / 1_000_000n)).toISOString(), text: n.text });
      });
      client.on('disconnect', () => done());
      process.once('SIGINT', () => done());
      if (from !== undefined) client.replay(from);
      // On stderr, so stdout stays the reports alone: from here on, nothing of this key is missed.
      process.stderr.write(`watching key ${client.keyId}'s reports${from !== undefined ? ` from ${from}` : ' from now'} (Ctrl-C stops)\n`);
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
    // Once subscribed (on stderr, so stdout stays the data alone): from here on nothing is missed.
    const watching = (what: string) => process.stderr.write(`watching ${u.symbol(instrument)}'s ${what} (Ctrl-C stops)\n`);
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
        client.subscribeBook(instrument).then(() => watching('book'), fail);
      } else {
        client.on('trade', (t: sbe.Trade) => {
          print(v, {
            instrument: u.symbol(t.instrument), tradeId: t.tradeId, execTimeNs: String(t.execTimeNs), price: u.price(instrument, t.price),
            qty: u.qty(instrument, t.qty), aggressor: side(t.aggressor),
            // An affiliated market maker's trade says so (AFMM-3): which party it was.
            ...(t.afmm ? { afmm: AFMM_SIDES[t.afmm] } : {}),
          });
          if (++seen >= limit) done();
        });
        client.subscribeTrades(instrument).then(() => watching('trades'), fail);
      }
    });
    return 0;
  } finally {
    client.close();
  }
}

/** The node's trade records of an instrument (an operator's query, AFMM-3). */
async function tradesList(args: string[]): Promise<number> {
  const v = parse('trades', args, { instrument: { type: 'string' }, last: { type: 'string' }, before: { type: 'string' } });
  if (v.help) return help('trades');
  const name = required(v, 'instrument');
  const last = integer(v, 'last');
  const before = integer(v, 'before');
  return withClient(v, async (client, u) => {
    const instrument = findInstrument(client.instruments, name).instrument;
    const answer = await client.admin({ query: 'trades', instrument: u.symbol(instrument), ...(last !== undefined ? { last } : {}), ...(before !== undefined ? { before } : {}) });
    if (!answer.ok) {
      return printRefusal(v, answer);
    }
    const listed = answer.body as { instrument: string; trades: TradeListed[]; more: boolean };
    const party = (p: TradeListed['taker']) => `${p.account}${p.afmm ? ' (AFMM)' : ''}`;
    printRows(v, listed.trades.map((t) => ({ ...t, price: u.price(instrument, t.price), qty: u.qty(instrument, t.qty) })), (t) => ({
      trade: t.tradeId, at: isoOfUs(t.ts), price: t.price, qty: t.qty, aggressor: t.aggressor,
      taker: party(t.taker), maker: party(t.maker), ...(t.liquidation ? { note: 'liquidation' } : { note: '' }),
    }), `no trades of ${listed.instrument} recorded`);
    if (!v.json && listed.more) console.log(`\nolder trades: --before ${listed.trades[listed.trades.length - 1].tradeId}`);
    return 0;
  });
}

interface TradeListed {
  tradeId: number; ts: number; price: number; qty: number; aggressor: 'buy' | 'sell'; liquidation: boolean;
  taker: { account: number; orderId: number; afmm: boolean }; maker: { account: number; orderId: number; afmm: boolean };
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

// ---- perpetual contracts -------------------------------------------------------------------------

/** Basis points as a percentage ("1.25%"); exact to the basis point. */
const percentOfBps = (bps: number) => `${fromUnits(bps, 2)}%`;
/** A funding rate in 1e-8 per interval as a percentage ("0.0125%"). */
const percentOfE8 = (e8: number) => `${fromUnits(e8, 6)}%`;

/** The account's perpetual figures (`junction account`): what the node sends a session at logon. */
async function account(args: string[]): Promise<number> {
  const v = parse('account', args, { wait: { type: 'string', default: '5000' } });
  if (v.help) return help('account');
  const waitMs = integer(v, 'wait')!;
  return withClient(v, async (client, u) => {
    const ack = client.logonAck!;
    if (ack.account === 0) throw new Error(`key ${client.keyId} acts for no account (an operator or price-source key): give a trade or read key (--key-id)`);
    const figures = client.perpAccount ?? await new Promise<PerpAccountFigures | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      client.once('perpAccount', (account, positions) => {
        clearTimeout(timer);
        resolve({ account, positions });
      });
    });
    if (!figures) throw new Error(`no perpetual figures for account ${ack.account} within ${waitMs} ms: does the node list perpetual contracts?`);
    const a = figures.account;
    const money = (x: number) => (v.raw ? x : fromUnits(x, a.scale));
    const positions = figures.positions.filter((p) => p.size !== 0).map((p) => ({
      instrument: u.symbol(p.instrument), size: u.qty(p.instrument, p.size), entryPrice: u.price(p.instrument, p.entryPrice),
      mark: u.price(p.instrument, p.mark), notional: money(p.notional), unrealizedPnl: money(p.unrealizedPnl), realizedPnl: money(p.realizedPnl),
      funding: money(p.funding), initialMargin: money(p.initialMargin), maintenanceMargin: money(p.maintenanceMargin),
      liquidationPrice: p.liquidationPrice === 0 ? null : u.price(p.instrument, p.liquidationPrice), adlRank: p.adlRank,
    }));
    const summary = {
      account: a.account, asOf: new Date(Number(a.asOfNs / 1_000_000n)).toISOString(), asset: a.asset, equity: money(a.equity), collateral: money(a.collateral),
      unrealizedPnl: money(a.unrealizedPnl), owed: money(a.owed), initialMargin: money(a.initialMargin), maintenanceMargin: money(a.maintenanceMargin),
      available: money(a.available), marginRatioBps: a.marginRatioBps,
    };
    if (v.json) {
      console.log(JSON.stringify({ ...summary, positions }));
      return 0;
    }
    const ratio = a.marginRatioBps === Number.MAX_SAFE_INTEGER ? 'equity not positive' : percentOfBps(a.marginRatioBps);
    console.log(`account ${a.account}, perpetuals, as of ${summary.asOf} (amounts in ${a.asset})`);
    printRows(v, [{
      equity: summary.equity, collateral: summary.collateral, unrealizedPnl: summary.unrealizedPnl, owed: summary.owed,
      initialMargin: summary.initialMargin, maintenanceMargin: summary.maintenanceMargin, available: summary.available, marginRatio: ratio,
    }], (x) => x, '');
    console.log('');
    printRows(v, positions, (p) => ({
      instrument: p.instrument, size: p.size, entry: p.entryPrice, mark: p.mark, unrealizedPnl: p.unrealizedPnl, realizedPnl: p.realizedPnl,
      funding: p.funding, initialMargin: p.initialMargin, maintenance: p.maintenanceMargin, liquidation: p.liquidationPrice ?? 'none', adlRank: p.adlRank,
    }), 'no open positions');
    return 0;
  });
}

const SOURCE_STATUS = ['used', 'stale', 'outlier', 'none'];

/** `junction perps ACTION`: market (each perpetual's PerpMarket). */
async function perps(args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  switch (action) {
    case 'market':
      return perpsMarket(rest);
    case 'reports':
      return perpsReports(rest);
    case 'stress': {
      const v = parse('perps', rest, { scenario: { type: 'string' } });
      if (v.help) return help('perps');
      const file = str(v, 'scenario');
      if (!file) throw new UsageError('perps stress needs --scenario FILE (scenarios/ has three)');
      console.log(stressCommand(file, v.json === true));
      return 0;
    }
    case 'assess':
    case 'collateral':
    case 'backstop':
    case 'set':
      return perpsOperate(action, rest);
    default: {
      const v = parse('perps', rest);
      if (v.help) return help('perps');
      throw new UsageError(action ? `unknown perps action ${action}: ${PERPS_ACTIONS}` : `which perps action? ${PERPS_ACTIONS}`);
    }
  }
}

const PERPS_ACTIONS = 'market, reports, stress, assess, collateral, backstop, set';

/**
 * The operators' perpetuals actions (sequenced and audited like the venue registry's):
 * `assess` records a participant's suitability assessment (PERP-2), `collateral` sets an
 * allow-list entry (PERP-4), `backstop` registers a backstop provider (PERP-6), `set` changes a
 * product's parameters (checked as at start).
 */
async function perpsOperate(action: string, args: string[]): Promise<number> {
  const v = parse('perps', args, {
    participant: { type: 'string' }, professional: { type: 'string' }, assessor: { type: 'string' }, 'assessed-on': { type: 'string' }, expires: { type: 'string' }, result: { type: 'string' },
    asset: { type: 'string' }, kind: { type: 'string' }, 'haircut-bps': { type: 'string' }, status: { type: 'string' },
    account: { type: 'string' }, capacity: { type: 'string' }, instrument: { type: 'string' }, set: { type: 'string', multiple: true },
  });
  if (v.help) return help('perps');
  const oneOf = (name: string, values: string[]) => {
    const x = required(v, name);
    if (!values.includes(x)) throw new UsageError(`--${name} must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}, got ${x}`);
    return x;
  };
  switch (action) {
    case 'assess': {
      const participant = wholeOption(v, 'participant');
      return applyAction(v, {
        action: 'investor.assess', participant, professional: yesNo(v, 'professional'), assessor: required(v, 'assessor'),
        assessedOn: required(v, 'assessed-on'), expires: required(v, 'expires'), result: oneOf('result', ['pass', 'fail']),
      }, `of participant ${participant}`);
    }
    case 'collateral': {
      const asset = required(v, 'asset');
      return applyAction(v, {
        action: 'collateral.set', entry: { asset, kind: oneOf('kind', ['fiat', 'stablecoin', 'tokenized-deposit']), haircutBps: wholeOption(v, 'haircut-bps'), status: oneOf('status', ['active', 'suspended']) },
      }, `for ${asset}`);
    }
    case 'backstop': {
      const account = wholeOption(v, 'account');
      const status = oneOf('status', ['active', 'suspended']);
      const capacityText = required(v, 'capacity', ' (in the settlement asset: the notional it commits to take)');
      return applyAction(v, async (client) => {
        // The capacity is in the settlement asset, which quotes every perpetual.
        let capacity: number;
        if (v.raw) {
          if (!/^\d+$/.test(capacityText)) throw new UsageError(`--capacity must be a whole number of units with --raw, got ${capacityText}`);
          capacity = Number(capacityText);
        } else {
          await client.subscribePerp(0);
          const perp = client.instruments.find((i) => client.perpMarkets.has(i.instrument));
          if (!perp) throw new Error('the node lists no perpetual contract');
          capacity = toUnits(capacityText, perp.quoteScale, 'capacity');
        }
        return { action: 'backstop.set', backstop: { account, capacity, status } };
      }, `for account ${account}`);
    }
    default: {
      const instrument = required(v, 'instrument');
      const changes = changesOf((v.set as string[] | undefined) ?? []);
      return applyAction(v, async (client) => ({ action: 'perp.set', instrument: findInstrument(client.instruments, instrument).instrument, changes }), `on ${instrument}`);
    }
  }
}

/** An AdminRequest the node refused: its reason and text (a JSON line with --json); exit status 1. */
function printRefusal(v: Values, answer: { reason: number; body: { reasonName?: string; text?: string } }): number {
  const refusal = { ok: false, reason: answer.body.reasonName, code: answer.reason, text: answer.body.text };
  console.log(v.json ? JSON.stringify(refusal) : `refused: ${refusal.reason}: ${refusal.text}`);
  return 1;
}

async function perpsMarket(args: string[]): Promise<number> {
  const v = parse('perps', args, { instrument: { type: 'string' } });
  if (v.help) return help('perps');
  // Public market data: no key needed.
  const client = await JunctionClient.subscribeOnly(str(v, 'url')!);
  try {
    const u = new Units(client.instruments, Boolean(v.raw));
    const name = str(v, 'instrument');
    const wanted = name === undefined ? 0 : findInstrument(client.instruments, name).instrument;
    const markets: sbe.PerpMarket[] = [];
    client.on('perpMarket', (m) => markets.push(m));
    await client.subscribePerp(wanted);
    for (const m of markets) {
      const i = m.instrument;
      const line = {
        instrument: u.symbol(i), asOf: new Date(Number(m.asOfNs / 1_000_000n)).toISOString(), mark: u.price(i, m.mark), index: u.price(i, m.index),
        degraded: m.degraded === sbe.BooleanType.True, clamped: m.clamped === sbe.BooleanType.True, markBand: [u.price(i, m.markBandLow), u.price(i, m.markBandHigh)],
        inputs: { fundingBasis: u.price(i, m.fundingBasis), movingBasis: u.price(i, m.movingBasis), lastTrade: u.price(i, m.lastTrade) },
        sources: m.sources.map((x) => ({ source: x.source, price: u.price(i, x.price), ageMs: x.ageMs, status: SOURCE_STATUS[x.status] })),
        lastFundingRateE8: m.lastFundingRateE8, predictedFundingRateE8: m.predictedFundingRateE8,
        nextFunding: m.nextFundingNs === 0n ? null : new Date(Number(m.nextFundingNs / 1_000_000n)).toISOString(), fundingIntervalMin: m.fundingIntervalMin,
        openInterest: u.qty(i, m.openInterest),
        insuranceFund: v.raw ? m.insuranceFund : settlementAmount(client, m.insuranceFund), insuranceDepleted: m.insuranceDepleted === sbe.BooleanType.True,
        adl: {
          longs: [m.adlLongs1, m.adlLongs2, m.adlLongs3, m.adlLongs4, m.adlLongs5],
          shorts: [m.adlShorts1, m.adlShorts2, m.adlShorts3, m.adlShorts4, m.adlShorts5],
        },
      };
      if (v.json) {
        console.log(JSON.stringify(line));
        continue;
      }
      console.log(`${line.instrument}: mark ${line.mark}${line.clamped ? ' (clamped to its band)' : ''}, index ${line.index}${line.degraded ? ' (DEGRADED: too few usable sources)' : ''}, as of ${line.asOf}`);
      console.log(`  mark inputs: funding basis ${line.inputs.fundingBasis}, moving basis ${line.inputs.movingBasis}, last trade ${line.inputs.lastTrade}; band ${line.markBand[0]} .. ${line.markBand[1]}`);
      console.log(`  funding every ${m.fundingIntervalMin} min: last ${percentOfE8(m.lastFundingRateE8)}, predicted ${percentOfE8(m.predictedFundingRateE8)}, next ${line.nextFunding ?? '-'}; open interest ${line.openInterest}`);
      console.log(`  insurance fund ${line.insuranceFund}${line.insuranceDepleted ? ' (DEPLETED: positions may be auto-deleveraged)' : ''}; ADL quintiles 1..5: longs ${line.adl.longs.join('/')}, shorts ${line.adl.shorts.join('/')}`);
      printRows(v, line.sources, (x) => ({ source: x.source, price: x.status === 'none' ? null : x.price, ageMs: x.status === 'none' ? null : x.ageMs, status: x.status }), '  (no sources)');
      console.log('');
    }
    return 0;
  } finally {
    client.close();
  }
}

/**
 * An amount of the perpetuals' settlement asset as a decimal: the asset and its scale are those of a
 * perpetual's quote (the settlement asset), as the InstrumentList gives them.
 */
function settlementAmount(client: JunctionClient, units: number): string {
  const perp = client.instruments.find((i) => client.perpMarkets.has(i.instrument));
  return perp ? fromUnits(units, perp.quoteScale) : String(units);
}

const STAGE_WORDS: Record<string, string> = {
  book: 'the book', backstop: 'backstop providers', insurance: 'the book with the insurance fund paying past bankruptcy', adl: 'auto-deleveraging', cover: 'the fund covering what was left below zero',
  collateral: 'the fund taking the defaulter\'s other collateral against what it owed',
};

/** The post-event reports (`junction perps reports`): any key may read them. */
async function perpsReports(args: string[]): Promise<number> {
  const v = parse('perps', args, { since: { type: 'string' } });
  if (v.help) return help('perps');
  const since = integer(v, 'since') ?? 0;
  return withClient(v, async (client, u) => {
    const reports = await client.perpReports(since);
    if (v.json) {
      for (const r of reports) console.log(JSON.stringify(r));
      return 0;
    }
    if (reports.length === 0) console.log(since > 0 ? `no post-event reports after sequence ${since}` : 'no post-event reports');
    for (const r of reports) console.log(`${reportParagraph(r, u, settlementMoney(client, r, Boolean(v.raw)))}\n`);
    return 0;
  });
}

/** Settlement amounts of a report as decimals (the scale of its products' quote, the settlement asset), or raw. */
function settlementMoney(client: JunctionClient, r: PerpReportBody, raw: boolean): (units: number) => string | number {
  const scale = client.instruments.find((i) => i.instrument === r.products[0]?.instrument)?.quoteScale;
  return (units) => (raw || scale === undefined ? units : fromUnits(units, scale));
}

/** One report in words: what triggered it, the market then, what was liquidated and how, the fund. */
function reportParagraph(r: PerpReportBody, u: Units, money: (units: number) => string | number): string {
  const at = new Date(Math.floor(r.ts / 1000)).toISOString();
  const markets = r.products.map((p) => `${p.symbol} mark ${u.price(p.instrument, p.mark)}, index ${u.price(p.instrument, p.index)} (${p.sources.map((s) => `${s.source} ${s.status}`).join(', ')})`).join('; ');
  const positions = r.liquidated.map((p) => `${p.side} ${u.qty(p.instrument, p.size)} ${u.symbol(p.instrument)} (bankruptcy price ${u.price(p.instrument, p.bankruptcyPrice)})`).join(', ');
  // A step with no quantity is money: the book's liquidation fee to the fund, or the fund paying.
  const steps = r.timeline.map((s) => s.qty > 0 ? `${STAGE_WORDS[s.stage] ?? s.stage} closed ${u.qty(s.instrument, s.qty)} at ${u.price(s.instrument, s.price)}`
    : s.stage === 'book' ? `a liquidation fee of ${money(s.amount)} to the insurance fund` : `the insurance fund paid ${money(s.amount)}`).join('; ');
  const cut = r.cut ? ` (the first of ${r.cut.liquidated} positions and ${r.cut.timeline} steps)` : '';
  return `${r.id} at ${at} (sequence ${r.seq}): ${r.triggers.join(', ')}. Market then: ${markets}. Liquidated${cut}: ${positions || 'none'}. ` +
    `Steps: ${steps || 'none'}. Insurance fund ${money(r.fundBefore)} before, ${money(r.fundAfter)} after.`;
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

// ---- operators: the venue registry and venue clients' custody ------------------------------------

/** Rows as aligned columns under a header, or with --json each row (`rows`, whole) as a JSON line. */
function printRows<T extends object>(v: Values, rows: T[], human: (row: T) => object, empty: string): void {
  if (v.json) {
    for (const row of rows) console.log(JSON.stringify(row));
    return;
  }
  if (rows.length === 0) return console.log(empty);
  const table = rows.map((row) => human(row) as Record<string, unknown>);
  const columns = Object.keys(table[0]);
  const cells = table.map((row) => columns.map((c) => cell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) => values.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd();
  console.log(line(columns));
  for (const row of cells) console.log(line(row));
}

function cell(x: unknown): string {
  if (x === null || x === undefined || x === '') return '-';
  if (typeof x === 'boolean') return x ? 'yes' : 'no';
  return typeof x === 'object' ? JSON.stringify(x) : String(x);
}

/**
 * Sends an operator's request and shows the answer; a refusal is printed by name with the node's
 * text (exit 1).
 */
/** The request's body, or what builds it once connected (an instrument's id or scale from the node). */
type RequestBody<T extends object> = T | ((client: JunctionClient) => Promise<T>);

async function operatorRequest(v: Values, body: RequestBody<object>, show: (answer: any) => void): Promise<number> {
  return withClient(v, async (client) => {
    const answer = await client.admin(typeof body === 'function' ? await body(client) : body);
    if (!answer.ok) return printRefusal(v, answer);
    show(answer.body);
    return 0;
  });
}

/** An action on the registry or custody: says it was applied, at which sequence. */
function applyAction(v: Values, body: RequestBody<{ action: string; [field: string]: unknown }>, what: string): Promise<number> {
  let action = typeof body === 'function' ? '' : body.action;
  const built: RequestBody<object> = typeof body === 'function' ? async (client) => {
    const b = await body(client);
    action = b.action;
    return b;
  } : body;
  return operatorRequest(v, built, (answer: { seq: number }) => {
    console.log(v.json ? JSON.stringify({ ok: true, action, seq: answer.seq }) : `applied: ${action} ${what} (seq ${answer.seq})`);
  });
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} from ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not JSON: ${(e as Error).message}`);
  }
}

/** --set FIELD=VALUE options as changes: VALUE as JSON when it parses (1, true, "text"), else as text. */
function changesOf(sets: string[]): Record<string, unknown> {
  if (sets.length === 0) throw new UsageError('--set FIELD=VALUE is required (at least one)');
  const changes: Record<string, unknown> = {};
  for (const set of sets) {
    const at = set.indexOf('=');
    if (at <= 0) throw new UsageError(`--set takes FIELD=VALUE, got ${set}`);
    const text = set.slice(at + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // not JSON: the text itself
    }
    changes[set.slice(0, at)] = value;
  }
  return changes;
}

/** Microseconds since the epoch as an ISO time (what the registry's events carry). */
const isoOfUs = (us: number) => new Date(Math.floor(us / 1000)).toISOString();

const VENUE_ACTIONS = ['list', 'add', 'update', 'suspend', 'reinstate', 'events', 'clients', 'client-add', 'attest', 'release', 'dues'];

async function venue(args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  const v = parse('venue', rest, {
    venue: { type: 'string' }, file: { type: 'string' }, set: { type: 'string', multiple: true }, reason: { type: 'string' },
    client: { type: 'string' }, asset: { type: 'string' }, amount: { type: 'string' }, id: { type: 'string' }, count: { type: 'string' },
  });
  if (v.help) return help('venue');
  if (!VENUE_ACTIONS.includes(action)) {
    throw new UsageError(action ? `unknown venue action ${action}: ${VENUE_ACTIONS.join(', ')}` : `which venue action? ${VENUE_ACTIONS.join(', ')}`);
  }
  const code = () => required(v, 'venue', ' (the venue\'s code)');
  switch (action) {
    case 'list':
      return operatorRequest(v, { query: 'venues', ...(str(v, 'venue') ? { venue: str(v, 'venue') } : {}) }, (answer) => printRows(v, answer.venues, (x: VenueListed) => ({
        code: x.code, name: x.name, jurisdiction: x.jurisdiction, status: x.status, reason: x.statusReason, eligible: x.eligible,
        ineligibility: x.ineligibility, licence: x.licenceId, expires: x.licenceExpires, custody: x.custody, clients: x.clientCount,
        exposure: `${x.exposure.total} / ${x.exposure.limit} ${x.exposure.asset}`,
      }), 'no venues'));
    case 'add': {
      const input = readJsonFile(required(v, 'file', ' (a JSON file of the venue\'s fields: junction venue --help)'), 'the venue') as { code?: unknown };
      return applyAction(v, { action: 'venue.add', venue: input }, String(input?.code ?? ''));
    }
    case 'update':
      return applyAction(v, { action: 'venue.update', code: code(), changes: changesOf((v.set as string[] | undefined) ?? []) }, code());
    case 'suspend':
      return applyAction(v, { action: 'venue.suspend', code: code(), reason: required(v, 'reason', ' (why, for the record)') }, code());
    case 'reinstate':
      return applyAction(v, { action: 'venue.reinstate', code: code() }, code());
    case 'events': {
      const last = integer(v, 'count');
      const query = { query: 'venue-events', ...(str(v, 'venue') ? { venue: str(v, 'venue') } : {}), ...(last !== undefined ? { last } : {}) };
      return operatorRequest(v, query, (answer) => printRows(v, answer.events, (e: VenueEventListed) => ({
        seq: e.seq, time: isoOfUs(e.ts), venue: e.venue, event: e.event, operator: e.operator === 0 ? 'node' : e.operator, detail: e.detail,
      }), 'no events'));
    }
    case 'clients':
      return operatorRequest(v, { query: 'venue-clients', venue: code() }, (answer) => {
        const clients = answer.clients as VenueClientListed[];
        if (v.json) return printRows(v, clients, (c) => c, '');
        // One line per client and asset held (a client holding nothing: one line, asset -).
        const rows = clients.flatMap((c) => (c.balances.length ? c.balances : [undefined]).map((b) => ({ client: c.client, account: c.account, asset: b?.asset, available: b?.available, held: b?.held })));
        printRows(v, rows, (r) => r, `venue ${answer.venue} has no clients`);
      });
    case 'client-add':
      return applyAction(v, { action: 'venue.client.add', venue: code(), client: required(v, 'client', ' (the venue\'s id of its client)') }, `${code()} ${str(v, 'client')}`);
    case 'attest':
    case 'release': {
      const amount = integer(v, 'amount');
      if (amount === undefined) throw new UsageError('--amount is required (whole ledger units of the asset)');
      const body = {
        action: `custody.${action}`, venue: code(), client: required(v, 'client', ' (the venue client)'), asset: required(v, 'asset', ' (the asset code)'),
        amount, id: required(v, 'id', ` (the ${action === 'attest' ? 'attestation' : 'release'}'s id: the same id again changes nothing)`),
      };
      return applyAction(v, body, `${body.amount} ${body.asset} for ${body.client} of ${body.venue}`);
    }
    default:
      return operatorRequest(v, { query: 'custody-dues' }, (answer: { gross: CustodyDueListed[]; net: CustodyDueListed[] }) => {
        if (v.json) {
          for (const [kind, dues] of [['gross', answer.gross], ['net', answer.net]] as const) for (const d of dues) console.log(JSON.stringify({ kind, ...d }));
          return;
        }
        console.log('gross: what each custody location owes another');
        printRows(v, answer.gross, (d) => d, '(none)');
        console.log('\nnet: per pair of locations, the larger side owing the difference');
        printRows(v, answer.net, (d) => d, '(none)');
      });
  }
}

/** --fatf-consistent yes|no and the like. */
function yesNo(v: Values, name: string): boolean {
  const value = required(v, name, ' (yes or no)');
  if (value !== 'yes' && value !== 'no') throw new UsageError(`--${name} must be yes or no, got ${value}`);
  return value === 'yes';
}

async function jurisdiction(args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  const v = parse('jurisdiction', rest, {
    file: { type: 'string' }, code: { type: 'string' }, name: { type: 'string' }, fatf: { type: 'string' }, fsrb: { type: 'string' },
    'fatf-consistent': { type: 'string' }, 'iosco-consistent': { type: 'string' }, 'assessed-on': { type: 'string' }, source: { type: 'string' },
  });
  if (v.help) return help('jurisdiction');
  if (action === 'list') {
    return operatorRequest(v, { query: 'jurisdictions' }, (answer) => printRows(v, answer.jurisdictions, (j: JurisdictionListed) => ({
      code: j.code, name: j.name, fatf: j.fsrb ? `${j.fatf} (${j.fsrb})` : j.fatf, fatfConsistent: j.fatfConsistent, ioscoConsistent: j.ioscoConsistent,
      assessedOn: j.assessedOn, venues: j.venues.join(','), source: j.source,
    }), 'no jurisdictions'));
  }
  if (action !== 'set') throw new UsageError(action ? `unknown jurisdiction action ${action}: list or set` : 'which jurisdiction action? list or set');
  const flags = ['code', 'name', 'fatf', 'fsrb', 'fatf-consistent', 'iosco-consistent', 'assessed-on', 'source'].filter((f) => v[f] !== undefined);
  const file = str(v, 'file');
  if (file !== undefined && flags.length > 0) throw new UsageError(`give --file or the flags, not both (--${flags[0]})`);
  const j = file !== undefined ? readJsonFile(file, 'the jurisdiction') as { code?: unknown } : {
    code: required(v, 'code', ' (ISO country code, e.g. SG)'), name: required(v, 'name'), fatf: required(v, 'fatf', ' (member, fsrb-member or none)'),
    ...(str(v, 'fsrb') !== undefined ? { fsrb: str(v, 'fsrb') } : {}),
    fatfConsistent: yesNo(v, 'fatf-consistent'), ioscoConsistent: yesNo(v, 'iosco-consistent'),
    assessedOn: required(v, 'assessed-on', ' (YYYY-MM-DD)'), source: required(v, 'source', ' (the assessment: a report, its address)'),
  };
  return applyAction(v, { action: 'jurisdiction.set', jurisdiction: j }, String(j?.code ?? ''));
}

/** What the settlement query carries (see src/gateway/ws/admin-queries.ts). */
interface SettlementListed {
  venues: { venue: string; custody: string; status: string; owed: number; reserved: number; total: number; limit: number; asset: string }[];
  reserve: { asset: string; account: number | null; holds: number; limits: number; expectedExposure: number }[];
  compensation: {
    arrangements: { id: string; kind: string; provider: string; policyId: string; assets: string[]; coverage: number; coverageAsset: string; expires: string }[];
    coverage: { asset: string; coverage: number; minimum: number }[];
  };
  cycles: { config: { intradayMinutes: number; dailyCutoffHkt: string; deadlineMinutes: number } | null; nextCycle: number | null };
  batches: { id: string; cycle: string; ts: number; deadline: number; locations: string[]; state: string;
    legs: { from: string; to: string; asset: string; amount: number; confirmation?: { reference: string } }[] }[];
  claims: { batch: string; venue: string; asset: string; amount: number; ts: number; reservePaid: number }[];
}

/** Settlement risk (`junction settlement status`) and compensation arrangements (`junction compensation`). */
async function settlement(args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  const v = parse('settlement', rest, {
    batch: { type: 'string' }, leg: { type: 'string' }, reference: { type: 'string' }, reason: { type: 'string' }, venue: { type: 'string' }, csv: { type: 'boolean', default: false },
    'intraday-minutes': { type: 'string' }, 'daily-cutoff': { type: 'string' }, 'deadline-minutes': { type: 'string' },
  });
  if (v.help) return help('settlement');
  const whole = (name: string) => {
    const n = Number(required(v, name));
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number`);
    return n;
  };
  switch (action) {
    case 'status': break;
    case 'batches':
      return operatorRequest(v, { query: 'settlement' }, (answer: SettlementListed) => printRows(v, answer.batches.flatMap((b) => b.legs.map((l, i) => ({
        batch: b.id, cycle: b.cycle, state: b.state, deadline: new Date(b.deadline / 1000).toISOString(), leg: i,
        delivers: `${l.from} → ${l.to}`, amount: `${l.amount} ${l.asset}`, confirmed: l.confirmation?.reference ?? '-',
      }))), (x) => x, 'no settlement batches'));
    case 'confirm':
      return applyAction(v, { action: 'settlement.confirm', batch: required(v, 'batch'), leg: whole('leg'), reference: required(v, 'reference', ' (the custodian\'s confirmation)') }, required(v, 'batch'));
    case 'fail':
      return applyAction(v, { action: 'settlement.fail', batch: required(v, 'batch'), reason: required(v, 'reason') }, required(v, 'batch'));
    case 'statement': {
      // A venue's statement: every leg of its batches, per cycle (JSON lines, or CSV with --csv).
      const code = required(v, 'venue');
      return operatorRequest(v, { query: 'settlement' }, (answer: SettlementListed) => {
        const venue = answer.venues.find((x) => x.venue === code);
        if (!venue) throw new UsageError(`no venue ${code}`);
        const rows = answer.batches.filter((b) => b.locations.includes(venue.custody)).flatMap((b) => b.legs.map((l, leg) => ({
          cycle: b.cycle, cycleAt: new Date(b.ts / 1000).toISOString(), batch: b.id, state: b.state, leg,
          direction: l.from === venue.custody ? 'delivers' : 'receives', counterparty: l.from === venue.custody ? l.to : l.from,
          asset: l.asset, amount: l.amount, confirmation: l.confirmation?.reference ?? '',
        })));
        const claims = answer.claims.filter((c) => c.venue === code);
        if (v.csv) {
          const header = ['cycle', 'cycleAt', 'batch', 'state', 'leg', 'direction', 'counterparty', 'asset', 'amount', 'confirmation'] as const;
          // RFC 4180 quoting; a text cell that a spreadsheet would read as a formula is kept as text.
          const cell = (x: unknown) => {
            let t = String(x);
            if (typeof x === 'string' && /^[=+\-@]/.test(t)) t = `'${t}`;
            return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
          };
          console.log(header.join(','));
          for (const r of rows) console.log(header.map((h) => cell(r[h])).join(','));
          // Claims against the venue follow, as rows of their own.
          for (const c of claims) console.log(['claim', new Date(c.ts / 1000).toISOString(), c.batch, 'failed', '', 'owes', 'platform', c.asset, c.amount, `reserve paid ${c.reservePaid}`].map(cell).join(','));
          return;
        }
        if (v.json) return console.log(JSON.stringify({ venue: code, legs: rows, claims }));
        printRows(v, rows, (r) => r, `no settlement batches for ${code}`);
        if (claims.length > 0) {
          console.log('\nclaims against the venue');
          printRows(v, claims, (c) => c, '');
        }
      });
    }
    case 'config':
      return applyAction(v, {
        action: 'settlement.config', intradayMinutes: whole('intraday-minutes'), dailyCutoffHkt: required(v, 'daily-cutoff', ' (HH:MM, Hong Kong)'),
        deadlineMinutes: whole('deadline-minutes'),
      }, 'cycles');
    default:
      throw new UsageError(action ? `unknown settlement action ${action}: status, batches, statement, confirm, fail or config` : 'which settlement action? status, batches, statement, confirm, fail or config');
  }
  return operatorRequest(v, { query: 'settlement' }, (answer: SettlementListed) => {
    if (v.json) return console.log(JSON.stringify(answer));
    console.log('unsettled exposure per venue (what it owes, plus its open orders at their worst case)');
    printRows(v, answer.venues, (x) => ({ venue: x.venue, status: x.status, owed: x.owed, reserved: x.reserved, exposure: x.total, limit: x.limit, asset: x.asset, used: x.limit > 0 ? `${Math.round((100 * x.total) / x.limit)}%` : '-' }), 'no venues');
    console.log('\nreserve fund (covers the sum of the limits; expected exposure: the 24-hour peak)');
    printRows(v, answer.reserve, (r) => ({ asset: r.asset, account: r.account ?? '-', holds: r.holds, limits: r.limits, expected: r.expectedExposure, covered: r.holds >= r.limits && r.holds >= r.expectedExposure ? 'yes' : 'NO' }), 'no limits');
    const c = answer.cycles;
    console.log(`\nsettlement cycles: ${c.config ? `${c.config.intradayMinutes > 0 ? `every ${c.config.intradayMinutes} min, ` : ''}daily ${c.config.dailyCutoffHkt} HKT, ${c.config.deadlineMinutes} min to settle; next ${c.nextCycle ? new Date(c.nextCycle / 1000).toISOString() : '-'}` : 'not configured'}`);
    const pending = answer.batches.filter((b) => b.state === 'pending').length;
    console.log(`batches: ${pending} pending, ${answer.batches.filter((b) => b.state === 'settled').length} settled, ${answer.batches.filter((b) => b.state === 'failed').length} failed; ${answer.claims.length} claims`);
    console.log('\ncompensation coverage in force against the minimum');
    printRows(v, answer.compensation.coverage, (c) => ({ asset: c.asset, coverage: c.coverage, minimum: c.minimum, covered: c.coverage >= c.minimum ? 'yes' : 'NO' }), 'no minimum set');
  });
}

/** The rulebook (any API key may read it): its text, or its data with --json. */
async function rulebookCommand(args: string[]): Promise<number> {
  const v = parse('rulebook', args);
  if (v.help) return help('rulebook');
  return operatorRequest(v, { query: 'rulebook' }, (answer: { text: string }) => {
    if (v.json) return console.log(JSON.stringify(answer));
    console.log(answer.text);
  });
}

async function compensation(args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  const v = parse('compensation', rest, { file: { type: 'string' }, asset: { type: 'string' }, amount: { type: 'string' } });
  if (v.help) return help('compensation');
  switch (action) {
    case 'list':
      return operatorRequest(v, { query: 'settlement' }, (answer: SettlementListed) => printRows(v, answer.compensation.arrangements, (a) => ({
        id: a.id, kind: a.kind, provider: a.provider, policy: a.policyId, assets: a.assets.join(','), coverage: `${a.coverage} ${a.coverageAsset}`, expires: a.expires,
      }), 'no arrangements'));
    case 'set': {
      const arrangement = readJsonFile(required(v, 'file', ' (a JSON file of the arrangement: junction compensation --help)'), 'the arrangement') as { id?: unknown };
      return applyAction(v, { action: 'compensation.set', arrangement }, String(arrangement?.id ?? ''));
    }
    case 'minimum': {
      const amount = Number(required(v, 'amount', ' (whole units of the asset)'));
      if (!Number.isSafeInteger(amount) || amount < 0) throw new UsageError('--amount must be a whole number of the asset\'s units');
      return applyAction(v, { action: 'compensation.minimum', asset: required(v, 'asset'), amount }, required(v, 'asset'));
    }
    default:
      throw new UsageError(action ? `unknown compensation action ${action}: list, set or minimum` : 'which compensation action? list, set or minimum');
  }
}

// ---- affiliated market makers (AFMM-1..5) --------------------------------------------------------

const AFMM_ACTIONS = ['list', 'designate', 'revoke', 'entry', 'approve', 'reject'];

/**
 * A change proposed or decided: a proposal is printed with its change id (what another operator
 * approves), a decision as applied.
 */
function afmmChange(v: Values, body: { action: string; [field: string]: unknown }, what: string): Promise<number> {
  return operatorRequest(v, body, (answer: { seq: number; change?: number; text?: string }) => {
    if (v.json) return console.log(JSON.stringify({ ok: true, action: body.action, seq: answer.seq, ...(answer.change !== undefined ? { change: answer.change } : {}) }));
    if (answer.change !== undefined) console.log(`proposed: ${body.action} ${what} as change ${answer.change} (seq ${answer.seq}); another operator approves it: junction afmm approve --change ${answer.change}`);
    else console.log(`applied: ${body.action} ${what} (seq ${answer.seq})`);
  });
}

function wholeOption(v: Values, name: string, why = ''): number {
  const n = integer(v, name);
  if (n === undefined) throw new UsageError(`--${name} is required${why}`);
  return n;
}

async function afmm(args: string[]): Promise<number> {
  const [action, rest] = actionOf(args);
  const v = parse('afmm', rest, {
    participant: { type: 'string' }, officer: { type: 'string' }, reason: { type: 'string' }, change: { type: 'string' }, id: { type: 'string' },
    kind: { type: 'string' }, 'fee-tier': { type: 'string' }, 'orders-per-second': { type: 'string' }, 'risk-text': { type: 'string' }, remove: { type: 'boolean', default: false },
  });
  if (v.help) return help('afmm');
  if (!AFMM_ACTIONS.includes(action)) throw new UsageError(action ? `unknown afmm action ${action}: ${AFMM_ACTIONS.join(', ')}` : `which afmm action? ${AFMM_ACTIONS.join(', ')}`);
  switch (action) {
    case 'list':
      return operatorRequest(v, { query: 'afmm' }, (answer: AfmmListed) => {
        if (v.json) return void answer.afmms.forEach((a) => console.log(JSON.stringify(a)));
        if (answer.afmms.length === 0) console.log('no affiliated market makers');
        for (const a of answer.afmms) {
          console.log(`participant ${a.participant} (${a.name}): affiliated market maker${a.since ? ` since ${new Date(Math.floor(a.since / 1000)).toISOString()}` : ''}; responsible officer ${a.officer}`);
          if (a.entries.length === 0) console.log('  no preferences');
          for (const e of a.entries) console.log(`  ${e.id}: ${e.kind === 'fee' ? `fee tier ${e.feeTier}` : `${e.ordersPerSecond} orders/s`}. Risk: ${e.riskText}`);
        }
        console.log(answer.statement);
      });
    case 'designate': {
      const participant = wholeOption(v, 'participant');
      return afmmChange(v, { action: 'afmm.designate', participant, officer: required(v, 'officer', ' (the responsible officer, named)') }, `participant ${participant}`);
    }
    case 'revoke': {
      const participant = wholeOption(v, 'participant');
      return afmmChange(v, { action: 'afmm.revoke', participant, reason: required(v, 'reason') }, `participant ${participant}`);
    }
    case 'entry': {
      const participant = wholeOption(v, 'participant');
      const id = required(v, 'id', ' (the entry\'s id)');
      if (v.remove) return afmmChange(v, { action: 'afmm.entry.remove', participant, id }, `${id} of participant ${participant}`);
      const kind = required(v, 'kind', ' (fee or rate-limit)');
      const riskText = required(v, 'risk-text', ' (the risk the preference carries, in words: it is disclosed)');
      const entry = kind === 'fee' ? { id, kind, feeTier: wholeOption(v, 'fee-tier', ' for a fee entry'), riskText }
        : kind === 'rate-limit' ? { id, kind, ordersPerSecond: wholeOption(v, 'orders-per-second', ' for a rate-limit entry'), riskText }
          : { id, kind, riskText }; // the node names why any other kind cannot be configured
      return afmmChange(v, { action: 'afmm.entry.set', participant, entry }, `${id} of participant ${participant}`);
    }
    case 'approve': {
      const change = wholeOption(v, 'change', ' (the change id its proposal printed)');
      return afmmChange(v, { action: 'afmm.approve', change }, `change ${change}`);
    }
    default: {
      const change = wholeOption(v, 'change', ' (the change id its proposal printed)');
      return afmmChange(v, { action: 'afmm.reject', change, reason: required(v, 'reason') }, `change ${change}`);
    }
  }
}

/** The AFMM audit trail (an operator key). */
async function auditCommand(args: string[]): Promise<number> {
  const v = parse('audit', args, { last: { type: 'string' } });
  if (v.help) return help('audit');
  const last = integer(v, 'last');
  return operatorRequest(v, { query: 'audit', ...(last !== undefined ? { last } : {}) }, (answer: AuditListed) => {
    if (v.json) return console.log(JSON.stringify(answer));
    printRows(v, answer.audit, (a) => ({
      change: a.change, seq: a.seq, at: isoOfUs(a.ts), event: a.event, operator: a.person ? `${a.operator} (${a.person})` : a.operator, what: describeChange(a.what), detail: a.detail ?? null,
    }), 'no AFMM changes recorded');
    console.log(`\n${answer.pending.length} pending${answer.pending.length > 0 ? ':' : ''}`);
    for (const p of answer.pending) console.log(`  change ${p.change} by operator ${p.operator}: ${describeChange(p.what)}`);
  });
}

/** An AFMM change in words. */
function describeChange(c: AfmmChangeListed): string {
  switch (c.action) {
    case 'afmm.designate': return `designate participant ${c.participant} (officer ${c.officer})`;
    case 'afmm.revoke': return `revoke participant ${c.participant}: ${c.reason}`;
    case 'afmm.entry.set': return `set ${c.entry.id} of participant ${c.participant}: ${c.entry.kind === 'fee' ? `fee tier ${c.entry.feeTier}` : `${c.entry.ordersPerSecond} orders/s`}`;
    case 'afmm.entry.remove': return `remove ${c.id} of participant ${c.participant}`;
  }
}

type AfmmEntryListed = { id: string; kind: 'fee'; feeTier: number; riskText: string } | { id: string; kind: 'rate-limit'; ordersPerSecond: number; riskText: string };
type AfmmChangeListed =
  | { action: 'afmm.designate'; participant: number; officer: string }
  | { action: 'afmm.revoke'; participant: number; reason: string }
  | { action: 'afmm.entry.set'; participant: number; entry: AfmmEntryListed }
  | { action: 'afmm.entry.remove'; participant: number; id: string };
interface AfmmListed { afmms: { participant: number; name: string; officer: string; since: number; entries: AfmmEntryListed[] }[]; statement: string }
interface AuditListed {
  audit: { change: number; seq: number; ts: number; event: string; operator: number; person?: string; what: AfmmChangeListed; detail?: string }[];
  total: number;
  pending: { change: number; operator: number; what: AfmmChangeListed }[];
}

/** What the listings carry (AdminResponse bodies; see src/gateway/ws/admin-queries.ts). */
interface VenueListed {
  code: string; name: string; jurisdiction: string; status: string; statusReason: string; eligible: boolean; ineligibility: string | null;
  licenceId: string; licenceExpires: string; custody: string; clientCount: number;
  /** Unsettled exposure (owed + reserved) against the limit, in the limit asset's units. */
  exposure: { owed: number; reserved: number; total: number; limit: number; asset: string };
}
interface VenueEventListed { seq: number; ts: number; venue: string; event: string; operator: number; detail: string }
interface VenueClientListed { client: string; account: number; balances: { asset: string; available: number; held: number }[] }
interface CustodyDueListed { from: string; to: string; asset: string; amount: number }
interface JurisdictionListed {
  code: string; name: string; fatf: string; fsrb?: string; fatfConsistent: boolean; ioscoConsistent: boolean; assessedOn: string; source: string; venues: string[];
}

/** The action word (`place`, `watch`, …) and the options after it; none when the first is an option. */
function actionOf(args: string[]): [string, string[]] {
  return args[0] === undefined || args[0].startsWith('-') ? ['', args] : [args[0], args.slice(1)];
}

function help(command: string): number {
  console.log(HELP[command]);
  return 0;
}

/**
 * API keys of a data folder (`keys list|add|revoke --data DIR`): an operator's tool like `ledger`,
 * safe while the node runs (LMDB serialises the writers; the gateway reads a key at each logon).
 */
async function keys(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      data: { type: 'string' }, 'key-id': { type: 'string' }, account: { type: 'string' }, permission: { type: 'string' },
      'public-key': { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false },
      person: { type: 'string' },
    },
  });
  if (values.help || !sub) return help('keys');
  if (!values.data) throw new UsageError('--data DIR is required: the node\'s data folder');
  if (!existsSync(join(values.data, 'data.mdb'))) throw new UsageError(`${values.data} holds no node`);
  const store = new LedgerStore<unknown, NodeConfig>(values.data);
  try {
    const keyStore = new KeyStore(store);
    if (sub === 'list') {
      const list = [...keyStore.allApiKeys()].map((k) => ({
        keyId: k.keyId, account: k.account, permission: k.permission, ...(k.person ? { person: k.person } : {}), publicKey: Buffer.from(k.publicKey).toString('base64'),
      }));
      if (values.json) for (const k of list) console.log(JSON.stringify(k));
      else console.table(list);
      return 0;
    }
    const keyId = Number(values['key-id']);
    if (!Number.isInteger(keyId) || keyId <= 0 || keyId > 0xffffffff) throw new UsageError(`--key-id must be a whole number from 1 to ${0xffffffff}`);
    if (sub === 'revoke') {
      if (!(await keyStore.removeApiKey(keyId))) {
        console.error(`junction keys: no key ${keyId}`);
        return 1;
      }
      console.log(values.json ? JSON.stringify({ revoked: keyId }) : `key ${keyId} revoked: its next logon is refused (a session logged on now runs until it ends)`);
      return 0;
    }
    if (sub !== 'add') throw new UsageError(`unknown keys command ${sub}: list, add or revoke`);
    const permission = values.permission as Permission;
    if (!PERMISSIONS.includes(permission)) throw new UsageError(`--permission must be ${PERMISSIONS.slice(0, -1).join(', ')} or ${PERMISSIONS.at(-1)}`);
    if (keyStore.apiKey(keyId)) {
      console.error(`junction keys: key ${keyId} exists (revoke it first to replace it)`);
      return 1;
    }
    // An operator key names the person who holds it: an AFMM change needs two different people (AFMM-5).
    // One spelling per person: spacing collapsed (case is kept, and ignored when compared).
    const person = values.person?.trim().replace(/\s+/g, ' ');
    if (permission === 'operator' && !person) throw new UsageError('--person NAME is required for an operator key: the person who holds it (an AFMM change needs two different people)');
    if (permission !== 'operator' && values.person !== undefined) throw new UsageError('--person is for operator keys only');
    if (person !== undefined && (person.length > 64 || /[\u0000-\u001f]/.test(person))) throw new UsageError('--person must be at most 64 characters, without control characters');
    // Operator and price-source keys act for no account.
    if (permission !== 'trade' && permission !== 'read' && values.account !== undefined) throw new UsageError(`--account is for trade and read keys: a ${permission} key acts for no account`);
    let account = 0;
    if (permission === 'trade' || permission === 'read') {
      account = Number(values.account);
      const known = store.config()?.accounts.find((a) => a.id === account);
      if (!known) throw new UsageError(`--account must be one of the node's accounts (${store.config()?.accounts.map((a) => a.id).join(', ')})`);
    }
    let publicKey: Uint8Array;
    let privateKeyPem: string | undefined;
    if (values['public-key']) {
      publicKey = new Uint8Array(Buffer.from(values['public-key'], 'base64'));
      if (publicKey.length !== 32) throw new UsageError('--public-key must be an Ed25519 public key: 32 bytes in base64');
    } else {
      const pair = newApiKeyPair();
      publicKey = pair.publicKey;
      privateKeyPem = pair.privateKeyPem;
    }
    await keyStore.putApiKey({ keyId, account, publicKey, permission, ...(person ? { person } : {}) });
    const entry = { keyId, account, permission, ...(person ? { person } : {}), ...(privateKeyPem ? { privateKeyPem } : {}) };
    if (values.out) {
      // The same form as demo-keys.json: a JSON array the other commands' --key-file reads.
      writeFileSync(values.out, JSON.stringify([entry], null, 2) + '\n', { mode: 0o600 });
      console.log(values.json ? JSON.stringify({ added: keyId, file: values.out }) : `key ${keyId} added (${permission}); its private key is in ${values.out}`);
    } else {
      console.log(JSON.stringify(entry));
    }
    return 0;
  } finally {
    await store.close();
  }
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  order, orders, balances, account, perps, reports, instruments, ledger, venue, jurisdiction, keys, settlement, compensation, rulebook: rulebookCommand,
  afmm, audit: auditCommand,
  book: (args) => watchMarket('book', args),
  trades: (args) => (args[0] === 'list' ? tradesList(args.slice(1)) : watchMarket('trades', args)),
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
