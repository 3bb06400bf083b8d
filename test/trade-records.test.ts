// The node's trade records (AFMM-3, OPS-3): every trade durable with its batch, with both parties,
// their orders and AFMM flags as designated when it was made; listed to operators (query trades),
// paged back; kept across a restart, so the public site's recent trades are too.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { answerQuery, QueryRefusal } from '../src/gateway/ws/admin-queries.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import * as sbe from '../src/protocol/codec.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { Tape } from '../src/site/tape.js';
import { ALICE, CAROL, DAVE, SPOT, perpConfig } from './support/perps.js';

const admin = (operator: number, body: Record<string, unknown>): NodeCommand => ({ type: 'admin', operator, body: body as never });
const spot = (account: number, side: number, price: number, qty: number): NodeCommand => ({ type: 'order', account, instrument: SPOT, side, orderType: 0, tif: 0, price, qty });

async function submitOk(node: NodeRuntime, command: NodeCommand) {
  const o = await node.submit(command);
  expect(o.ok, `${JSON.stringify(command)}: ${o.reasonName} ${o.text ?? ''}`).toBe(true);
  return o;
}

describe('trade records', () => {
  it('[AFMM-3] [OPS-3] every trade is recorded with both parties, their orders and AFMM flags as designated then; listed newest first and paged; kept across a restart, and the site\'s tape with them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'junction-trades-'));
    let node = await NodeRuntime.open({ dataDir, config: perpConfig() });
    for (const [account, asset, amount] of [[CAROL, 'BASE', 100], [DAVE, 'BASE', 100], [ALICE, 'QUOTE', 10_000_000], [DAVE, 'QUOTE', 10_000_000]] as const) {
      await submitOk(node, { type: 'deposit', key: `d-${account}-${asset}`, account, asset, amount });
    }
    // Before DAVE is an AFMM: CAROL sells 2 to DAVE.
    const carolAsk = await submitOk(node, spot(CAROL, 1, 10_010, 2));
    const daveBuy = await submitOk(node, spot(DAVE, 0, 10_010, 2));
    // DAVE (participant 6) designated, approved by a second operator.
    const proposed = await submitOk(node, admin(900, { action: 'afmm.designate', participant: 6, officer: 'Jane Chan' }));
    await submitOk(node, admin(901, { action: 'afmm.approve', change: proposed.seq }));
    // Now DAVE's ask is taken by ALICE (maker AFMM), then DAVE takes CAROL's ask (taker AFMM).
    const daveAsk = await submitOk(node, spot(DAVE, 1, 10_020, 3));
    const aliceBuy = await submitOk(node, spot(ALICE, 0, 10_020, 3));
    const carolAsk2 = await submitOk(node, spot(CAROL, 1, 10_030, 1));
    const daveBuy2 = await submitOk(node, spot(DAVE, 0, 10_030, 1));
    const party = (account: number, orderId: number, afmm: boolean) => ({ account, orderId, afmm });
    const expected = [
      { instrument: SPOT, tradeId: 3, ts: daveBuy2.ts, price: 10_030, qty: 1, aggressor: 'buy', taker: party(DAVE, daveBuy2.seq, true), maker: party(CAROL, carolAsk2.seq, false), liquidation: false },
      { instrument: SPOT, tradeId: 2, ts: aliceBuy.ts, price: 10_020, qty: 3, aggressor: 'buy', taker: party(ALICE, aliceBuy.seq, false), maker: party(DAVE, daveAsk.seq, true), liquidation: false },
      { instrument: SPOT, tradeId: 1, ts: daveBuy.ts, price: 10_010, qty: 2, aggressor: 'buy', taker: party(DAVE, daveBuy.seq, false), maker: party(CAROL, carolAsk.seq, false), liquidation: false },
    ];
    expect(node.trades.latest(SPOT, 10)).toEqual(expected);
    // The operators' query: newest first, `last` of them, `more` when older ones exist; paged by `before`.
    expect(answerQuery(node, { query: 'trades', instrument: 'BASE-QUOTE', last: 2 }, 0)).toEqual({ instrument: 'BASE-QUOTE', trades: expected.slice(0, 2), more: true });
    expect(answerQuery(node, { query: 'trades', instrument: SPOT, before: 2 }, 0)).toEqual({ instrument: 'BASE-QUOTE', trades: expected.slice(2), more: false });
    const { UnknownInstrument, InvalidAdminCommand } = sbe.RejectReason;
    for (const [request, reason, text] of [
      [{ query: 'trades', instrument: 'DOGE-USD' }, UnknownInstrument, 'trades needs an instrument the node lists (symbol or id), not "DOGE-USD"'],
      [{ query: 'trades', instrument: SPOT, last: 0 }, InvalidAdminCommand, 'last must be a whole number from 1 to 1000'],
      [{ query: 'trades', instrument: SPOT, before: -1 }, InvalidAdminCommand, 'before must be a trade id (a whole number from 1)'],
      [{ query: 'trades', instrument: SPOT, side: 'buy' }, InvalidAdminCommand, 'query trades takes only instrument, last, before, not side'],
    ] as const) {
      let refusal: unknown;
      try {
        answerQuery(node, request, 0);
      } catch (e) {
        refusal = e;
      }
      expect(refusal).toBeInstanceOf(QueryRefusal);
      expect(refusal).toMatchObject({ reason, message: text });
    }
    // A revoked designation does not rewrite what was recorded.
    const revoke = await submitOk(node, admin(901, { action: 'afmm.revoke', participant: 6, reason: 'affiliation ended' }));
    await submitOk(node, admin(900, { action: 'afmm.approve', change: revoke.seq }));
    expect(node.pipeline.afmm.isAfmm(DAVE)).toBe(false);
    expect(node.trades.latest(SPOT, 10)).toEqual(expected);
    await node.close();

    // Across a restart: the records, and the site's recent trades built from them.
    node = await NodeRuntime.open({ dataDir });
    expect(node.trades.latest(SPOT, 10)).toEqual(expected);
    const tape = new Tape(node);
    expect(tape.trades(SPOT, 10).map((t) => [t.tradeId, t.price, t.qty, t.aggressor, t.makerAfmm, t.takerAfmm])).toEqual([
      [3, 10_030, 1, 'buy', false, true], [2, 10_020, 3, 'buy', true, false], [1, 10_010, 2, 'buy', false, false],
    ]);
    // A trade after the restart is recorded after them, and its batch's trades of one instrument together.
    await submitOk(node, spot(CAROL, 1, 10_040, 2));
    const [sells, buy] = await Promise.all([submitOk(node, spot(CAROL, 1, 10_050, 1)), submitOk(node, spot(ALICE, 0, 10_050, 3))]);
    expect(node.trades.latest(SPOT, 2).map((t) => [t.tradeId, t.price, t.qty, t.maker.orderId, t.taker.orderId])).toEqual([
      [5, 10_050, 1, sells.seq, buy.seq], [4, 10_040, 2, sells.seq - 1, buy.seq],
    ]);
    await node.close();
  });
});
