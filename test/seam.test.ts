// The order-entry seam (issue 10): gateways are listeners of the node's batches and detach what
// they attached when they close; the report streams are the node's, so two gateways on one node
// never number one key's stream twice.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GatewayServer } from '../src/gateway/ws/server.js';
import * as sbe from '../src/protocol/codec.js';
import { gatewayNode } from './support/gateway-node.js';
import { BUYER, SELLER } from './support/node-config.js';
import { loggedOn } from './support/ws-session.js';

const logon = loggedOn;

function place(ws: WebSocket, clOrdId: number, side: number, price: number, qty = 1): void {
  const v = new DataView(new ArrayBuffer(64));
  ws.send(new Uint8Array(v.buffer, 0, sbe.encodeNewOrder(v, 0, {
    clOrdId, instrument: 1, side: side as sbe.Side, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, stpMode: sbe.StpMode.None, price, qty,
  })));
}

const streamSeqs = (got: sbe.Decoded[]) => got.filter((d) => d.type === 'ExecutionReport').map((d) => (d.message as sbe.ExecutionReport).outSeq);

describe('the order-entry seam', () => {
  it('[OPS-1] a gateway attaches its listeners to the node and detaches them all when it closes', async () => {
    const env = await gatewayNode([[1, BUYER]]);
    // The first gateway attached the node's report streams and itself.
    expect(env.node.listenerCount).toBe(2);
    const second = new GatewayServer(env.node);
    expect(env.node.listenerCount).toBe(3); // the report streams are shared, not attached again
    second.close();
    expect(env.node.listenerCount).toBe(2);
    env.server.close();
    expect(env.node.listenerCount).toBe(0);
    await env.node.close();
  });

  it('[OPS-1] [OPS-2] two gateways on one node number one key\'s stream once: both sessions see the same reports under the same outSeqs', async () => {
    const env = await gatewayNode([[1, SELLER], [2, BUYER]]);
    const second = new GatewayServer(env.node);
    const secondUrl = `ws://127.0.0.1:${await second.listen(0)}/ws`;
    const a = await logon(env.url, 1, env.pems.get(1)!);
    const b = await logon(secondUrl, 1, env.pems.get(1)!);
    const taker = await logon(secondUrl, 2, env.pems.get(2)!);
    place(a.ws, 11, sbe.Side.Sell, 1_000); // through the first gateway
    place(b.ws, 12, sbe.Side.Sell, 1_001); // the same key through the second
    await new Promise((r) => setTimeout(r, 100));
    place(taker.ws, 13, sbe.Side.Buy, 1_001, 2); // fills both, entered by another key
    for (const end = Date.now() + 15_000; (streamSeqs(a.got).length < 4 || streamSeqs(b.got).length < 4) && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    // New, New, Fill, Fill: numbered once, 1 to 4, and each session got exactly that stream.
    expect(streamSeqs(a.got)).toEqual([1, 2, 3, 4]);
    expect(streamSeqs(b.got)).toEqual([1, 2, 3, 4]);
    const reports = (got: sbe.Decoded[]) => got.filter((d) => d.type === 'ExecutionReport').map((d) => d.message);
    expect(reports(a.got)).toEqual(reports(b.got));
    expect(reports(a.got).map((r) => [(r as sbe.ExecutionReport).clOrdId, (r as sbe.ExecutionReport).execType])).toEqual([
      [11, sbe.ExecType.New], [12, sbe.ExecType.New], [11, sbe.ExecType.Fill], [12, sbe.ExecType.Fill],
    ]);
    for (const c of [a, b, taker]) c.ws.close();
    second.close();
    await env.close();
  });

  it('[OPS-1] [OPS-2] cancel-on-disconnect as a gateway closes still reports: its Cancelled reports are in the key\'s stream after a restart', async () => {
    const env = await gatewayNode([[1, SELLER]]);
    const { ws, got } = await logon(env.url, 1, env.pems.get(1)!, sbe.BooleanType.True);
    place(ws, 21, sbe.Side.Sell, 1_000);
    for (const end = Date.now() + 15_000; streamSeqs(got).length < 1 && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    env.server.close(); // ends the session: cancel-on-disconnect queues a mass cancel
    await env.node.drain();
    expect(env.node.pipeline.orders.size).toBe(0);
    // A new gateway on the node: the key's stream holds the New and the Cancelled.
    const again = new GatewayServer(env.node);
    const url = `ws://127.0.0.1:${await again.listen(0)}/ws`;
    const back = await logon(url, 1, env.pems.get(1)!);
    const ack = back.got.find((d) => d.type === 'LogonAck')!.message as sbe.LogonAck;
    expect(ack.nextOutSeq).toBe(3);
    back.ws.close();
    again.close();
    await env.node.close();
  });

  it('[OPS-1] an empty frame is refused with the reason (the order fast path leaves it to the decoder)', async () => {
    const env = await gatewayNode([[1, SELLER]]);
    const s = await logon(env.url, 1, env.pems.get(1)!);
    const closed = new Promise<[number, string]>((r) => s.ws.once('close', (code, reason) => r([code, reason.toString()])));
    s.ws.send(new Uint8Array(0));
    expect(await closed).toEqual([1007, 'unparseable frame: messageHeader: a frame of 0 bytes is shorter than the 8-byte header']);
    await env.close();
  });

  it('[OPS-1] a cancel naming client order id 0 and no order id is refused as UnknownClOrdId, as before the seam', async () => {
    const env = await gatewayNode([[1, SELLER]]);
    const s = await logon(env.url, 1, env.pems.get(1)!);
    const v = new DataView(new ArrayBuffer(64));
    s.ws.send(new Uint8Array(v.buffer, 0, sbe.encodeCancelOrder(v, 0, { clOrdId: 31, origClOrdId: 0, instrument: 1, orderId: 0 })));
    for (const end = Date.now() + 15_000; !s.got.some((d) => d.type === 'CancelReject') && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(s.got.find((d) => d.type === 'CancelReject')!.message).toMatchObject({ clOrdId: 31, origClOrdId: 0, reason: sbe.RejectReason.UnknownClOrdId });
    s.ws.close();
    await env.close();
  });
});
