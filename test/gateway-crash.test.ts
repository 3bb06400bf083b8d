// Report streams across crashes (OPS-2): the node with its gateway runs as a child process and is
// killed with SIGKILL while a market maker and a client trade over websockets. After each restart
// every execution report and cancel reject a client received must be replayable, byte for byte
// the same message under the same outbound sequence, and the stream must continue after the
// highest sequence anyone saw: a report is never sent before it is durable.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JunctionClient } from '../src/client/client.js';
import * as sbe from '../src/protocol/codec.js';
import { REPLAY_MESSAGES_MAX } from '../src/gateway/ws/server.js';
import { mulberry32 } from './support/command-stream.js';
import { startNodeProcess } from './support/node-process.js';

const KILLS = 5;
const BTC = 1;
const TICK = 10_000;
const LOT = 10_000;
const REF = 95_000_000_000;

type StreamMessage = sbe.ExecutionReport | sbe.CancelReject;

const startNode = startNodeProcess;

/** Everything of a key's stream the node holds, by replaying from 1 in pages. */
async function replayAll(client: JunctionClient): Promise<Map<number, StreamMessage>> {
  const all = new Map<number, StreamMessage>();
  const last = client.logonAck!.nextOutSeq - 1;
  const keep = (m: StreamMessage) => all.set(m.outSeq, m);
  client.on('report', keep);
  client.on('cancelReject', keep);
  for (let from = 1; from <= last; from += REPLAY_MESSAGES_MAX) {
    client.replay(from);
    const upTo = Math.min(last, from + REPLAY_MESSAGES_MAX - 1);
    for (const end = Date.now() + 15_000; !all.has(upTo) && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  }
  return all;
}

describe('report streams across crashes', () => {
  it(`[OPS-2] [OPS-1] ${KILLS} SIGKILLs while trading: every report a client saw is replayed unchanged, and sequences never repeat`, async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-gwcrash-'));
    const random = mulberry32(7);
    /** Per key: every stream message received, by outSeq, over all runs. */
    const seen = new Map<number, Map<number, StreamMessage>>([[1, new Map()], [2, new Map()]]);
    let clOrdId = 1;
    for (let run = 0; run <= KILLS; run++) {
      const { child, url, keys } = await startNode(data);
      const clients = await Promise.all([1, 2].map((keyId) => JunctionClient.connect({
        url, keyId, privateKeyPem: keys.find((k) => k.keyId === keyId)!.privateKeyPem, reconnect: false,
      })));
      // What the node holds now must agree with everything seen before, and continue after it.
      for (const [i, keyId] of [1, 2].entries()) {
        const stored = await replayAll(clients[i]);
        const before = seen.get(keyId)!;
        for (const [outSeq, m] of before) expect(stored.get(outSeq), `key ${keyId} outSeq ${outSeq} after run ${run}`).toEqual(m);
        expect(clients[i].logonAck!.nextOutSeq).toBe(stored.size + 1);
        for (const [outSeq, m] of stored) before.set(outSeq, m);
      }
      if (run === KILLS) {
        for (const c of clients) c.close();
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        break;
      }
      for (const [i, keyId] of [1, 2].entries()) {
        const keep = (m: StreamMessage) => seen.get(keyId)!.set(m.outSeq, m);
        clients[i].on('report', keep);
        clients[i].on('cancelReject', keep);
      }
      // The market maker quotes and requotes; the client takes with IOC orders; until the kill.
      const [maker, taker] = clients;
      const flow = setInterval(() => {
        for (let n = 0; n < 20; n++) {
          const side = random() < 0.5 ? sbe.Side.Buy : sbe.Side.Sell;
          const price = REF + (side === sbe.Side.Buy ? -1 : 1) * TICK * Math.floor(1 + random() * 20);
          void maker.place({ instrument: BTC, side, price, qty: LOT * (1 + Math.floor(random() * 5)), clOrdId: clOrdId++ }).catch(() => {});
          if (random() < 0.3) void maker.cancel(BTC, Math.max(1, clOrdId - 1 - Math.floor(random() * 40))).catch(() => {});
          // Amends up and down, and a cancel and an amend of one order in the same turn.
          if (random() < 0.3) {
            const target = Math.max(1, clOrdId - 1 - Math.floor(random() * 20));
            const amendPrice = REF + (side === sbe.Side.Buy ? -1 : 1) * TICK * Math.floor(1 + random() * 20);
            void maker.amend(BTC, target, amendPrice, LOT * (1 + Math.floor(random() * 8))).catch(() => {});
            if (random() < 0.3) void maker.cancel(BTC, target).catch(() => {});
            if (random() < 0.3) void maker.amend(BTC, target, amendPrice, LOT).catch(() => {});
          }
          if (random() < 0.4) {
            void taker.place({
              instrument: BTC, side: 1 - side as sbe.Side, price: REF + (side === sbe.Side.Buy ? -25 : 25) * TICK, qty: LOT, timeInForce: sbe.TimeInForce.IOC, clOrdId: clOrdId++,
            }).catch(() => {});
          }
        }
      }, 2);
      await new Promise((r) => setTimeout(r, 300 + random() * 500));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      clearInterval(flow);
      for (const c of clients) c.close();
    }
    // The runs did trade: fills reached both sides and both streams grew across the kills.
    const all = [...seen.values()].flatMap((m) => [...m.values()]);
    expect(all.filter((m) => 'execType' in m && m.execType === sbe.ExecType.PartialFill || 'execType' in m && m.execType === sbe.ExecType.Fill).length).toBeGreaterThan(10);
    expect(seen.get(1)!.size).toBeGreaterThan(100);
    expect(seen.get(2)!.size).toBeGreaterThan(10);
    expect(all.filter((m) => 'execType' in m && m.execType === sbe.ExecType.Amended).length).toBeGreaterThan(10);
  }, 120_000);
});
