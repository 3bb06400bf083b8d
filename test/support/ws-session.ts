// A websocket session for gateway tests: a signed Logon frame, and a connection that logs on and
// collects every message it is sent (and how it closed).
import WebSocket from 'ws';
import { signLogon } from '../../src/gateway/ws/auth.js';
import * as sbe from '../../src/protocol/codec.js';

/** A Logon for `keyId`, signed now with its private key (a fresh random nonce unless given). */
export function logonFrame(keyId: number, pem: string, options: { nonce?: number; cancelOnDisconnect?: sbe.BooleanType } = {}): Uint8Array {
  const timestampNs = BigInt(Date.now()) * 1_000_000n;
  const nonce = options.nonce ?? Math.floor(Math.random() * 2 ** 48);
  const v = new DataView(new ArrayBuffer(512));
  const n = sbe.encodeLogon(v, 0, {
    keyId, timestampNs, nonce, heartbeatMs: 0, cancelOnDisconnect: options.cancelOnDisconnect ?? sbe.BooleanType.False,
    signature: signLogon(pem, keyId, timestampNs, nonce),
  });
  return new Uint8Array(v.buffer.slice(0, n));
}

export interface WsSession {
  ws: WebSocket;
  /** Every message received, in order. */
  got: sbe.Decoded[];
  /** The close code, once closed. */
  closed?: number;
}

/** Connects to `url` and logs on with `keyId`; resolves once the LogonAck is in (or after 3 s). */
export async function loggedOn(url: string, keyId: number, pem: string, cancelOnDisconnect = sbe.BooleanType.False as sbe.BooleanType): Promise<WsSession> {
  const ws = new WebSocket(url);
  const session: WsSession = { ws, got: [] };
  ws.on('message', (data: Buffer) => session.got.push(...sbe.decodeMessages(new Uint8Array(data))));
  ws.on('close', (code) => (session.closed = code));
  await new Promise((r) => ws.once('open', r));
  ws.send(logonFrame(keyId, pem, { cancelOnDisconnect }));
  for (const end = Date.now() + 15_000; !session.got.some((d) => d.type === 'LogonAck') && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
  return session;
}
