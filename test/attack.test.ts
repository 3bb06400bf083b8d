// An attacker with trading keys, over the wire: several commands on the same orders in one frame,
// from two connections of the same key at once (through two gateways on one node), a mass cancel
// from another key of the same account, and another account's orders crossing them — all in the
// same event-loop turn, round after round. The node must stay up, answer every request exactly
// once, and hold exactly what the orders its own reports describe still need.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer } from '../src/gateway/ws/server.js';
import * as sbe from '../src/protocol/codec.js';
import { mulberry32 } from './support/command-stream.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';
import { BUYER, SELLER } from './support/node-config.js';
import { loggedOn, type WsSession } from './support/ws-session.js';
import { cancelRejects, frame, orderMessages, reports, watchBatches } from './support/attack.js';

const ROUNDS = 80;
const BASE = 1;

type Conn = WsSession;
const logon = loggedOn;

const { newOrder, cancel, amend, massCancel } = orderMessages(1);

let env: GatewayNode;
let second: GatewayServer;
let secondUrl: string;

beforeAll(async () => {
  // Keys 1 and 2 trade for the seller's account, key 3 for the buyer's.
  env = await gatewayNode([[1, SELLER], [2, SELLER], [3, BUYER]], 100);
  second = new GatewayServer(env.node);
  secondUrl = `ws://127.0.0.1:${await second.listen(0)}/ws`;
});

afterAll(async () => {
  second.close();
  await env.close();
});

describe('an attacker with trading keys', () => {
  it(`[SL-10] [OPS-1] [OPS-2] ${ROUNDS} rounds of same-order cancels and amends in one frame, from two connections of one key at once, with a mass cancel and crossing orders: every request answered once, the holds exact, the node up`, async () => {
    const random = mulberry32(99);
    const int = (n: number) => Math.floor(random() * n);
    const a = await logon(env.url, 1, env.pems.get(1)!); // key 1 through the first gateway
    const b = await logon(secondUrl, 1, env.pems.get(1)!); // key 1 again, through the second
    const mass = await logon(secondUrl, 2, env.pems.get(2)!); // another key of the same account
    const taker = await logon(env.url, 3, env.pems.get(3)!); // another account
    let id = 1_000;
    const requests: number[] = []; // cancels and amends of key 1
    const massRequests: number[] = [];
    const answered = (r: number) => cancelRejects(a).filter((c) => c.clOrdId === r).length + (reports(a).some((e) => e.requestClOrdId === r) ? 1 : 0);
    const massAnswered = () => mass.got.filter((d) => d.type === 'MassCancelReport').length;
    // What the batches held: key 1's commands from both gateways in one batch, and several
    // commands naming one order in one batch (what the attack is about).
    const { seen, detach } = watchBatches(env.node, 1);
    for (let round = 0; round < ROUNDS; round++) {
      const x = ++id;
      const y = ++id;
      const before = reports(a).length;
      a.ws.send(frame(newOrder(x, sbe.Side.Sell, 1_000 + int(5), 10 + int(20)), newOrder(y, sbe.Side.Sell, 1_000 + int(5), 10 + int(20))));
      for (const end = Date.now() + 15_000; reports(a).length < before + 2 && Date.now() < end;) await new Promise((r) => setTimeout(r, 2));
      // All at once, in one turn: both connections of key 1 on the same two orders, a mass cancel
      // from key 2, and a buyer crossing them.
      const aRequests = [++id, ++id, ++id, ++id];
      a.ws.send(frame(
        amend(aRequests[0], x, 1_000 + int(5), 30 + int(60)), // up
        cancel(aRequests[1], x),
        amend(aRequests[2], x, 1_000, 5), // after its cancel
        amend(aRequests[3], y, 1_000 + int(5), 1 + int(10)), // down
      ));
      const bRequests = [++id, ++id, ++id];
      b.ws.send(frame(
        amend(bRequests[0], y, 1_000 + int(5), 40 + int(40)), // up again, from the other connection
        cancel(bRequests[1], x),
        amend(bRequests[2], y, 1_004, 20 + int(20)),
      ));
      requests.push(...aRequests, ...bRequests);
      if (random() < 0.3) {
        const m = ++id;
        massRequests.push(m);
        mass.ws.send(frame(massCancel(m)));
      }
      const take = ++id;
      taker.ws.send(frame(newOrder(take, sbe.Side.Buy, 1_004, 1 + int(25), sbe.TimeInForce.IOC)));
      const roundDone = () => [...aRequests, ...bRequests].every((r) => answered(r) >= 1) && massAnswered() === massRequests.length
        && reports(taker).some((e) => e.clOrdId === take);
      // However slow the host: 15 s for a round's answers (a lost one is never answered).
      for (const end = Date.now() + 15_000; !roundDone() && Date.now() < end;) await new Promise((r) => setTimeout(r, 2));
      expect(roundDone(), `round ${round} answered`).toBe(true);
    }
    detach();
    expect(seen.bothGateways, 'batches with key 1 commands from both gateways').toBeGreaterThan(ROUNDS / 2);
    expect(seen.sameOrderTwice, 'batches with two or more commands on one order').toBeGreaterThan(ROUNDS / 2);
    // Exactly once: a CancelReject or the reports it caused, never both, never twice.
    expect(requests.filter((r) => answered(r) !== 1)).toEqual([]);
    expect(requests.filter((r) => cancelRejects(a).filter((c) => c.clOrdId === r).length > 1)).toEqual([]);
    expect(mass.got.filter((d) => d.type === 'MassCancelReport').map((d) => (d.message as sbe.MassCancelReport).clOrdId)).toEqual(massRequests);
    // Both connections of the key saw one stream, the same, numbered once.
    const seqs = (c: Conn) => c.got.filter((d) => d.type === 'ExecutionReport' || d.type === 'CancelReject').map((d) => (d.message as { outSeq: number }).outSeq);
    const seqA = seqs(a);
    expect(seqA).toEqual(Array.from({ length: seqA.length }, (_, i) => i + 1));
    expect(seqs(b)).toEqual(seqA.slice(seqA.length - seqs(b).length));
    // The orders as key 1's own reports describe them: what is still open, and how much.
    const open = new Map<number, number>();
    for (const r of reports(a)) {
      const done = r.execType === sbe.ExecType.Fill || r.execType === sbe.ExecType.Cancelled || r.execType === sbe.ExecType.Rejected;
      if (done) open.delete(r.orderId);
      else open.set(r.orderId, r.leavesQty);
    }
    // Key 2's mass cancels cancelled some of key 1's orders: their reports went to key 1 too.
    const openQty = [...open.values()].reduce((s, q) => s + q, 0);
    await env.node.drain();
    env.node.checkInvariants();
    // A sell holds exactly its open quantity: the ledger agrees with the reports.
    expect(env.node.ledger.balance(SELLER, BASE).held).toBe(openQty);
    expect([...env.node.pipeline.orders.values()].filter((o) => o.account === SELLER).map((o) => [o.id, o.remaining]).sort((p, q) => p[0] - q[0]))
      .toEqual([...open].sort((p, q) => p[0] - q[0]));
    // The flow did what it set out to: fills, cancels, amends up and down, and refusals.
    const kinds = reports(a).map((r) => r.execType);
    for (const k of [sbe.ExecType.Amended, sbe.ExecType.Cancelled, sbe.ExecType.PartialFill]) expect(kinds.filter((t) => t === k).length, `exec ${k}`).toBeGreaterThan(10);
    expect(cancelRejects(a).filter((c) => c.reason === sbe.RejectReason.UnknownOrder).length).toBeGreaterThan(10);
    // Nobody was disconnected: no connection closed by a fault.
    expect([a, b, mass, taker].map((c) => c.closed)).toEqual([undefined, undefined, undefined, undefined]);
  }, 120_000);
});
