// Fuzzing the running gateway: 100k random and mutated frames from logged-on and anonymous
// connections. The node must stay up, keep its invariants, and still serve a normal client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { GatewayServer } from '../src/gateway/ws/server.js';
import { signLogon } from '../src/gateway/ws/auth.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import * as sbe from '../src/protocol/codec.js';
import { mulberry32 } from './support/command-stream.js';
import { BUYER, MAKER, SELLER, testConfig } from './support/node-config.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';

const FRAMES = 100_000;
const CONNECTIONS = 4;
let node: NodeRuntime;
let server: GatewayServer;
let url: string;
const pem = new Map<number, string>();

let env: GatewayNode;

beforeAll(async () => {
  // One key per fuzzing connection: a newer logon of a key replaces the older connection.
  // Instrument 9, which the fuzzing never names, has no price band: the normal client's order at
  // the end has one exact outcome whatever price the fuzzing's trades left on instrument 1.
  const config = testConfig();
  config.instruments.push({ symbol: 'CHECK', base: 'BASE', quote: 'QUOTE', spec: { id: 9, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1_000, refPrice: 1_000, bandBps: 0 } });
  env = await gatewayNode([[1, BUYER], [2, SELLER], [3, BUYER], [4, SELLER], [5, MAKER]], 10, {}, config);
  ({ node, server, url } = env);
  for (const [keyId, privateKeyPem] of env.pems) pem.set(keyId, privateKeyPem);
});

afterAll(() => env.close());

function logonFrame(keyId: number, nonce: number): Uint8Array {
  const frame = new Uint8Array(sbe.sizeOfLogon({} as sbe.Logon));
  const timestampNs = BigInt(Date.now()) * 1_000_000n;
  sbe.encodeLogon(new DataView(frame.buffer), 0, {
    keyId, timestampNs, nonce, heartbeatMs: 0, cancelOnDisconnect: 1, signature: signLogon(pem.get(keyId)!, keyId, timestampNs, nonce),
  });
  return frame;
}

/** Valid frames of each client message, to mutate. */
function seeds(): Uint8Array[] {
  const order: sbe.NewOrder = { clOrdId: 1, instrument: 1, side: 0, ordType: 0, timeInForce: 0, stpMode: 255, price: 1_000, qty: 3 };
  const make = (size: number, encode: (v: DataView) => number) => {
    const b = new Uint8Array(size);
    encode(new DataView(b.buffer));
    return b;
  };
  return [
    make(8 + sbe.NEWORDER_BLOCK_LENGTH, (v) => sbe.encodeNewOrder(v, 0, order)),
    make(8 + 4 + 64, (v) => sbe.encodeBatchNewOrders(v, 0, { orders: [order, { ...order, side: 1, clOrdId: 2 }] })),
    make(8 + 28, (v) => sbe.encodeCancelOrder(v, 0, { clOrdId: 3, origClOrdId: 1, instrument: 1, orderId: 0 })),
    make(8 + 36, (v) => sbe.encodeAmendOrder(v, 0, { clOrdId: 4, origClOrdId: 1, instrument: 1, price: 990, qty: 2 })),
    make(8 + 13, (v) => sbe.encodeMassCancel(v, 0, { clOrdId: 5, instrument: 0, side: 255 })),
    make(8 + 8, (v) => sbe.encodeTestRequest(v, 0, { testReqId: 6 })),
    make(8 + 8, (v) => sbe.encodeOpenOrdersRequest(v, 0, { reqId: 7 })),
    make(8 + 8, (v) => sbe.encodeBalancesRequest(v, 0, { reqId: 8 })),
    make(8 + 8, (v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: 1 })),
    make(8 + 4, (v) => sbe.encodeDeadMansSwitch(v, 0, { timeoutMs: 0 })),
    make(8 + sbe.SUBSCRIBE_BLOCK_LENGTH, (v) => sbe.encodeSubscribe(v, 0, { instrument: 1, channel: sbe.Channel.Trades })),
  ];
}

describe('gateway under fuzzing', () => {
  it(`[OPS-1] survives ${FRAMES.toLocaleString('en')} random and mutated frames, then a normal client still trades`, async () => {
    const random = mulberry32(77);
    const int = (n: number) => Math.floor(random() * n);
    const base = seeds();
    let connections = 0;
    let nonce = 1;
    const buffer = new DataView(new ArrayBuffer(4096));
    const encoded = (n: number) => new Uint8Array(buffer.buffer.slice(0, n));
    const pick = <T,>(xs: readonly T[]): T => xs[int(xs.length)];
    const randomOrder = (): sbe.NewOrder => ({
      clOrdId: int(5_000), instrument: int(4), side: int(2) as sbe.Side, ordType: int(2) as sbe.OrdType, timeInForce: int(4) as sbe.TimeInForce,
      stpMode: pick([0, 1, 2, 3, 255]) as sbe.StpMode, price: int(3_000) - 5, qty: int(2_000) - 5,
    });
    // Mostly well-formed messages with random field values (they reach the pipeline and are
    // rejected or traded on their merits); some with bytes flipped; a few random or truncated
    // frames, which close their connection.
    const frame = (): Uint8Array => {
      const x = random();
      if (x < 0.01) return Uint8Array.from({ length: int(80) }, () => int(256));
      if (x < 0.02) {
        const f = pick(base);
        return f.slice(0, int(f.length));
      }
      if (x < 0.07) {
        const f = pick(base).slice();
        const flips = 1 + int(3);
        for (let i = 0; i < flips; i++) f[random() < 0.1 ? int(8) : 8 + int(f.length - 8)] = int(256);
        return f;
      }
      switch (int(8)) {
        case 0: case 1: case 2: return encoded(sbe.encodeNewOrder(buffer, 0, randomOrder()));
        case 3: return encoded(sbe.encodeBatchNewOrders(buffer, 0, { orders: Array.from({ length: 1 + int(8) }, randomOrder) }));
        case 4: return encoded(sbe.encodeCancelOrder(buffer, 0, { clOrdId: int(5_000), origClOrdId: int(5_000), instrument: int(4), orderId: 0 }));
        case 5: return encoded(sbe.encodeAmendOrder(buffer, 0, { clOrdId: int(5_000), origClOrdId: int(5_000), instrument: int(4), price: int(3_000), qty: int(50) - 2 }));
        case 6: return encoded(sbe.encodeMassCancel(buffer, 0, { clOrdId: int(5_000), instrument: int(3), side: pick([0, 1, 255]) as sbe.SideFilter }));
        default: return encoded(pick([
          (v: DataView) => sbe.encodeTestRequest(v, 0, { testReqId: int(1e9) }),
          (v: DataView) => sbe.encodeHeartbeat(v, 0, { testReqId: int(1e9) }),
          (v: DataView) => sbe.encodeSubscribe(v, 0, { instrument: int(3), channel: int(2) as sbe.Channel }),
          (v: DataView) => sbe.encodeReplayRequest(v, 0, { fromOutSeq: int(100) }),
        ])(buffer));
      }
    };
    const worker = async (w: number) => {
      while (server.stats.frames < FRAMES) {
        const ws = new WebSocket(url);
        connections++;
        await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
        let open = true;
        const closed = new Promise<void>((r) => ws.once('close', () => { open = false; r(); }));
        if (random() < 0.8) ws.send(logonFrame(1 + w, nonce++));
        // A burst of frames; the server closes the connection at the first it cannot decode.
        for (let i = 0; i < 400 && open; i++) {
          ws.send(frame());
          if (i % 50 === 49) await new Promise((r) => setImmediate(r));
        }
        ws.close();
        await closed;
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, (_, w) => worker(w)));
    // Counted where it matters: frames the server received and handled.
    expect(server.stats.frames).toBeGreaterThanOrEqual(FRAMES);
    expect(server.stats.unparseable).toBeGreaterThan(1_000);
    expect(server.stats.sessionRejects).toBeGreaterThan(100);
    // A gateway bug is counted (the connection is closed with 1011), never swallowed: there is none.
    expect(server.stats.internalErrors).toBe(0);
    await node.drain();
    node.checkInvariants();
    // Clear the book the fuzzing left, so the normal client's order has one exact outcome.
    await node.submit({ type: 'massCancel', account: BUYER });
    await node.submit({ type: 'massCancel', account: SELLER });
    // The market maker (untouched by the fuzzing) is funded for the one order that follows.
    expect((await node.submit({ type: 'deposit', key: 'after-fuzz', account: MAKER, asset: 'BASE', amount: 1 })).ok).toBe(true);

    // A normal client logs on and trades.
    const ws = new WebSocket(url);
    await new Promise((resolve) => ws.once('open', resolve));
    const received: sbe.Decoded[] = [];
    ws.on('message', (d: Buffer) => received.push(...sbe.decodeMessages(new Uint8Array(d))));
    ws.send(logonFrame(5, 999_999_999));
    const orderFrame = new Uint8Array(8 + sbe.NEWORDER_BLOCK_LENGTH);
    sbe.encodeNewOrder(new DataView(orderFrame.buffer), 0, { clOrdId: 987_654_321, instrument: 9, side: 1, ordType: 0, timeInForce: 0, stpMode: 255, price: 1_200, qty: 1 });
    ws.send(orderFrame);
    for (let i = 0; i < 500 && !received.some((d) => d.type === 'ExecutionReport' && d.message.clOrdId === 987_654_321); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(received[0].type).toBe('LogonAck');
    const report = received.find((d) => d.type === 'ExecutionReport' && d.message.clOrdId === 987_654_321);
    expect(report?.message).toMatchObject({ execType: sbe.ExecType.New, side: sbe.Side.Sell, price: 1_200, qty: 1, leavesQty: 1 });
    ws.close();
  }, 120_000);
});
