// An attacker with trading keys on a perpetual, over the wire: on a margin-limited account, several
// commands on the same orders in one frame — amends up past what its margin covers, cancels, amends
// after the cancel, reduce-only orders — from two connections of the same key at once (through two
// gateways on one node), a mass cancel from another key of the account, and another account
// crossing the orders, all in the same event-loop turn, round after round. Every request must be
// answered exactly once, and the margin reservation must be exactly what the open orders need.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer } from '../src/gateway/ws/server.js';
import * as sbe from '../src/protocol/codec.js';
import { notionalUp } from '../src/perps/margin.js';
import { mulberry32 } from './support/command-stream.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';
import { loggedOn } from './support/ws-session.js';
import { CAROL, DAVE, PERP, SOURCES, assessments, perpConfig } from './support/perps.js';
import { cancelRejects, frame, orderMessages, reports, watchBatches } from './support/attack.js';

const ROUNDS = 60;

const { newOrder, cancel, amend, massCancel } = orderMessages(PERP);

let env: GatewayNode;
let second: GatewayServer;
let secondUrl: string;
let sourceTick = 0;

/** The three sources price the index at 10,000 now (the node runs on the real clock: they keep it fresh). */
async function fresh(): Promise<void> {
  const ts = Date.now() * 1000 + ++sourceTick;
  for (const source of SOURCES) expect((await env.node.submit({ type: 'price', source, underlying: 'BASE', price: 10_000, sourceTs: ts })).ok).toBe(true);
}

beforeAll(async () => {
  // Keys 1 and 2 trade for DAVE (margin for about 50 units), key 3 for CAROL.
  env = await gatewayNode([[1, DAVE], [2, DAVE], [3, CAROL]], 1, {}, perpConfig());
  for (const c of assessments()) expect((await env.node.submit(c)).ok).toBe(true);
  await env.node.submit({ type: 'deposit', key: 'dave-margin', account: DAVE, asset: 'QUOTE', amount: 50_000 });
  await env.node.submit({ type: 'deposit', key: 'carol-margin', account: CAROL, asset: 'QUOTE', amount: 100_000_000 });
  await fresh();
  second = new GatewayServer(env.node);
  secondUrl = `ws://127.0.0.1:${await second.listen(0)}/ws`;
});

afterAll(async () => {
  second.close();
  await env.close();
});

describe('an attacker with trading keys on a perpetual', () => {
  it(`[PERP-3] [PERP-5] [SL-10] [OPS-1] ${ROUNDS} rounds of same-order amends past the margin, cancels and reduce-only orders in one frame, from two connections of one key at once, with a mass cancel, crossing orders and a mark move: every request answered once, the margin reservation exact, the band on the mark`, async () => {
    const random = mulberry32(7);
    const int = (n: number) => Math.floor(random() * n);
    const a = await loggedOn(env.url, 1, env.pems.get(1)!);
    const b = await loggedOn(secondUrl, 1, env.pems.get(1)!);
    const mass = await loggedOn(secondUrl, 2, env.pems.get(2)!);
    const taker = await loggedOn(env.url, 3, env.pems.get(3)!);
    let id = 1_000;
    const requests: number[] = [];
    const placed: number[] = [];
    const massRequests: number[] = [];
    const answered = (r: number) => cancelRejects(a).filter((c) => c.clOrdId === r).length + (reports(a).some((e) => e.requestClOrdId === r) ? 1 : 0);
    const placedAnswered = (r: number) => reports(a).filter((e) => e.clOrdId === r && (e.execType === sbe.ExecType.New || e.execType === sbe.ExecType.Rejected)).length;
    const { seen, detach } = watchBatches(env.node, 1);
    const priceUpdates: Promise<import('../src/pipeline/commands.js').Outcome>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 10 === 0) await fresh();
      const x = ++id;
      const y = ++id;
      const before = reports(a).length;
      a.ws.send(frame(newOrder(x, sbe.Side.Sell, 10_000 + int(5), 2 + int(6)), newOrder(y, sbe.Side.Sell, 10_000 + int(5), 2 + int(6))));
      placed.push(x, y);
      for (const end = Date.now() + 15_000; reports(a).length < before + 2 && Date.now() < end;) await new Promise((r) => setTimeout(r, 2));
      // All at once: both connections of key 1 on the same orders — amends up past the margin,
      // a cancel, an amend after it, a reduce-only buy — a mass cancel, a buyer crossing them.
      const aRequests = [++id, ++id, ++id, ++id];
      const ro = ++id;
      a.ws.send(frame(
        amend(aRequests[0], x, 10_000 + int(5), 20 + int(60)), // up: often past what 50,000 covers
        cancel(aRequests[1], x),
        amend(aRequests[2], x, 10_000, 1), // after its cancel
        amend(aRequests[3], y, 10_000 + int(5), 1 + int(3)), // down
        newOrder(ro, sbe.Side.Buy, 9_990 + int(5), 1 + int(10), sbe.TimeInForce.GTC, true), // reduce-only: trimmed, or refused when flat
      ));
      placed.push(ro);
      const bRequests = [++id, ++id, ++id];
      b.ws.send(frame(
        amend(bRequests[0], y, 10_000 + int(5), 30 + int(40)), // up again, from the other connection
        cancel(bRequests[1], x),
        amend(bRequests[2], y, 10_004, 5 + int(20)),
      ));
      requests.push(...aRequests, ...bRequests);
      if (random() < 0.3) {
        const m = ++id;
        massRequests.push(m);
        mass.ws.send(frame(massCancel(m)));
      }
      const take = ++id;
      taker.ws.send(frame(newOrder(take, sbe.Side.Buy, 10_004, 1 + int(8), sbe.TimeInForce.IOC)));
      // In the same turn the sources move the index a little: the mark moves, and the batch ends by
      // recentring the perp's price band on it, among the orders above.
      const sourceTs = Date.now() * 1000 + ++sourceTick;
      const move = int(7) - 3;
      for (const source of SOURCES) priceUpdates.push(env.node.submit({ type: 'price', source, underlying: 'BASE', price: 10_000 + move, sourceTs }));
      const roundDone = () => [...aRequests, ...bRequests].every((r) => answered(r) >= 1) && placedAnswered(ro) >= 1
        && massAnswered() === massRequests.length && reports(taker).some((e) => e.clOrdId === take);
      const massAnswered = () => mass.got.filter((d) => d.type === 'MassCancelReport').length;
      // However slow the host: 15 s for a round's answers (a lost one is never answered).
      for (const end = Date.now() + 15_000; !roundDone() && Date.now() < end;) await new Promise((r) => setTimeout(r, 2));
      expect(roundDone(), `round ${round} answered`).toBe(true);
    }
    detach();
    expect((await Promise.all(priceUpdates)).filter((o) => !o.ok)).toEqual([]);
    expect(seen.bothGateways, 'batches with key 1 commands from both gateways').toBeGreaterThan(ROUNDS / 2);
    expect(seen.sameOrderTwice, 'batches with two or more commands on one order').toBeGreaterThan(ROUNDS / 2);
    // Exactly once: a CancelReject or the reports it caused, never both, never twice; each new order one New or Rejected.
    expect(requests.filter((r) => answered(r) !== 1)).toEqual([]);
    expect(placed.filter((r) => placedAnswered(r) !== 1)).toEqual([]);
    // The margin held: amends past it were refused by name, reduce-only orders refused when they could not reduce.
    expect(cancelRejects(a).filter((c) => c.reason === sbe.RejectReason.InsufficientMargin).length, 'amends refused for margin').toBeGreaterThan(10);
    expect(reports(a).filter((e) => e.execType === sbe.ExecType.Rejected && e.rejectReason === sbe.RejectReason.ReduceOnly).length, 'reduce-only refusals').toBeGreaterThan(0);
    await env.node.drain();
    env.node.checkInvariants();
    // The core's band is centred on the mark the last batch left, or on a trade since.
    const product = env.node.pipeline.perps.products.get(PERP)!;
    expect([product.mark, product.lastTrade]).toContain(env.node.pipeline.core.band(PERP).reference);
    // The reservation is exactly what DAVE's open perp orders need, order by order.
    const perps = env.node.pipeline.perps;
    const want = { buyQty: 0, buyNotional: 0, sellQty: 0, sellNotional: 0, reduceBuy: 0, reduceSell: 0 };
    for (const o of env.node.pipeline.orders.values()) {
      if (o.account !== DAVE || o.instrument !== PERP) continue;
      if (o.reduceOnly) {
        if (o.side === 0) want.reduceBuy += o.remaining; else want.reduceSell += o.remaining;
      } else if (o.side === 0) {
        want.buyQty += o.remaining;
        want.buyNotional += notionalUp(o.remaining, o.limit, 1);
      } else {
        want.sellQty += o.remaining;
        want.sellNotional += notionalUp(o.remaining, o.limit, 1);
      }
    }
    const got = perps.accounts.get(DAVE)?.orders.get(PERP) ?? { buyQty: 0, buyNotional: 0, sellQty: 0, sellNotional: 0, reduceBuy: 0, reduceSell: 0 };
    expect(got).toEqual(want);
    // Reduce-only orders never exceed what is left to reduce, and the account's initial margin is covered.
    const size = perps.accounts.get(DAVE)?.positions.get(PERP)?.size ?? 0;
    expect(want.reduceBuy).toBeLessThanOrEqual(Math.max(0, -size));
    expect(want.reduceSell).toBeLessThanOrEqual(Math.max(0, size));
    expect(perps.accountView(DAVE).available).toBeGreaterThanOrEqual(0);
    expect([a, b, mass, taker].map((c) => c.closed)).toEqual([undefined, undefined, undefined, undefined]);
  }, 120_000);
});
