// What the attack tests share: frames of several messages on one order, the reports and rejects a
// session got, and a watch on the batches (key 1's commands from both gateways in one batch, and
// several commands naming one order in one batch: what the attack is about).
import type { NodeRuntime } from '../../src/pipeline/runtime.js';
import * as sbe from '../../src/protocol/codec.js';
import type { WsSession } from './ws-session.js';

type Encoder = (v: DataView, at: number) => number;

/** One frame of several messages, each encoded at the next offset. */
export function frame(...encoders: Encoder[]): Uint8Array {
  const v = new DataView(new ArrayBuffer(4096));
  let n = 0;
  for (const encode of encoders) n += encode(v, n);
  return new Uint8Array(v.buffer, 0, n);
}

/** Message encoders on one instrument. */
export function orderMessages(instrument: number) {
  return {
    newOrder: (clOrdId: number, side: sbe.Side, price: number, qty: number, tif: sbe.TimeInForce = sbe.TimeInForce.GTC, reduceOnly = false): Encoder =>
      (v, at) => sbe.encodeNewOrder(v, at, {
        clOrdId, instrument, side, ordType: sbe.OrdType.Limit, timeInForce: tif, stpMode: sbe.StpMode.None, price, qty,
        reduceOnly: reduceOnly ? sbe.BooleanType.True : sbe.BooleanType.False,
      }),
    cancel: (clOrdId: number, origClOrdId: number): Encoder => (v, at) => sbe.encodeCancelOrder(v, at, { clOrdId, origClOrdId, instrument, orderId: 0 }),
    amend: (clOrdId: number, origClOrdId: number, price: number, qty: number): Encoder =>
      (v, at) => sbe.encodeAmendOrder(v, at, { clOrdId, origClOrdId, instrument, price, qty }),
    massCancel: (clOrdId: number): Encoder => (v, at) => sbe.encodeMassCancel(v, at, { clOrdId, instrument, side: sbe.SideFilter.Both }),
  };
}

export const reports = (c: WsSession) => c.got.filter((d) => d.type === 'ExecutionReport').map((d) => d.message as sbe.ExecutionReport);
export const cancelRejects = (c: WsSession) => c.got.filter((d) => d.type === 'CancelReject').map((d) => d.message as sbe.CancelReject);

/** Counts the batches holding `keyId`'s commands from two gateways, and those naming one order twice or more. */
export function watchBatches(node: NodeRuntime, keyId: number): { seen: { bothGateways: number; sameOrderTwice: number }; detach: () => void } {
  const seen = { bothGateways: 0, sameOrderTwice: 0 };
  const detach = node.attach({
    applied: (batch) => {
      const gateways = new Set<number>();
      const named = new Map<number, number>();
      for (const { command: c } of batch.commands) {
        if (c.type === 'deposit' || c.type === 'withdraw' || c.origin?.keyId !== keyId) continue;
        gateways.add(c.origin.gateway);
        if (c.type === 'cancel' || c.type === 'amend') named.set(c.orderId, (named.get(c.orderId) ?? 0) + 1);
      }
      if (gateways.size === 2) seen.bothGateways++;
      if ([...named.values()].some((n) => n >= 2)) seen.sameOrderTwice++;
    },
  });
  return { seen, detach };
}
