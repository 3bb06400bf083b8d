#!/usr/bin/env node
// The `junction` command line for operators and users.
//   junction ledger --data DIR --account N [--postings K] [--json]
//     the account's balances (available and held), its open orders with what each holds, and its
//     latest postings, read from the node's LMDB data folder (safe while the node runs: LMDB
//     readers do not block the writer).
import { parseArgs } from 'node:util';
import { ACCOUNT_KIND_NAMES, Bucket, CAUSE_NAMES, type Asset } from './ledger/model.js';
import { decodePostings } from './ledger/postings.js';
import { NodeRuntime } from './pipeline/runtime.js';

const USAGE = 'usage: junction ledger --data DIR --account N [--postings K] [--json]';

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
      default:
        console.error(USAGE);
        return 2;
    }
  } catch (e) {
    console.error(`junction ${command}: ${(e as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
