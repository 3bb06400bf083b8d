// Market data for a book deeper than one message carries (a group holds at most 4096 levels): a
// snapshot comes in parts, and a turn that changes more levels than that publishes several
// updates, each with the next bookSeq. Subscribers keep the true book with no gap.
import { afterAll, describe, expect, it } from 'vitest';
import { JunctionClient, type LocalBook } from '../src/client/client.js';
import { SELLER, testConfig } from './support/node-config.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';

const LEVELS = 5_000;
const REF = 100_000;
let env: GatewayNode;
afterAll(() => env?.close());

const until = async (check: () => boolean) => {
  for (const end = Date.now() + 15_000; !check() && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
};

describe('market data of a deep book', () => {
  it('[OPS-3] [OPS-1] a snapshot of 5,000 levels comes in parts and updates of 5,000 changed levels in several bookSeqs', async () => {
    const base = testConfig();
    const config = testConfig({
      ordersMax: 16_384,
      accounts: base.accounts.map((a) => (a.id === SELLER ? { ...a, ordersOpenMax: 10_000 } : a)),
      instruments: base.instruments.map((l) => ({ ...l, spec: { ...l.spec, refPrice: REF } })),
    });
    env = await gatewayNode([], 10, {}, config);
    const early = await JunctionClient.subscribeOnly(env.url);
    const gaps: number[][] = [];
    early.on('gap', (...args: number[]) => gaps.push(args));
    early.subscribeBook(1);
    await until(() => early.book(1) !== undefined && early.book(1)!.bookSeq === 0);

    // 5,000 asks at 5,000 prices, in one go.
    const placed = [];
    for (let i = 1; i <= LEVELS; i++) placed.push(env.node.submit({ type: 'order', account: SELLER, instrument: 1, side: 1, orderType: 0, tif: 0, price: REF + i, qty: 1 }));
    expect((await Promise.all(placed)).every((o) => o.ok)).toBe(true);
    await until(() => early.book(1)!.asks.length === LEVELS);

    // A late subscriber gets the whole book as a snapshot in two parts.
    const late = await JunctionClient.subscribeOnly(env.url);
    const books: LocalBook[] = [];
    late.on('book', (b: LocalBook) => books.push(b));
    late.subscribeBook(1);
    await until(() => books.length === 1);
    expect(books[0].asks.length).toBe(LEVELS);
    expect(books[0].asks[0]).toEqual({ price: REF + 1, qty: 1, count: 1 });
    expect(books[0].asks[LEVELS - 1]).toEqual({ price: REF + LEVELS, qty: 1, count: 1 });

    // One mass cancel changes all 5,000 levels in one turn: two updates, bookSeq +1 each.
    const seqBefore = early.book(1)!.bookSeq;
    expect((await env.node.submit({ type: 'massCancel', account: SELLER, instrument: 1 })).ok).toBe(true);
    await until(() => early.book(1)!.asks.length === 0 && late.book(1)!.asks.length === 0);
    expect(early.book(1)!.bookSeq).toBe(seqBefore + 2);
    expect(late.book(1)!.bookSeq).toBe(seqBefore + 2);
    expect(gaps).toEqual([]);
    expect(env.server.stats.internalErrors).toBe(0);
    early.close();
    late.close();
  }, 60_000);
});
