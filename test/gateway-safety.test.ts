// Gateway safety (issue 8, parts 4 and 5), over real sockets on loopback: a flood of sockets that
// never log on cannot lock traders out; a captured logon cannot be replayed after a restart (not
// even one after a SIGKILL); the node serves wss:// with a certificate and key.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JunctionClient } from '../src/client/client.js';
import { UNATTACHED_MAX } from '../src/gateway/ws/server.js';
import * as sbe from '../src/protocol/codec.js';
import { gatewayNode } from './support/gateway-node.js';
import { startNodeProcess } from './support/node-process.js';
import { BUYER, SELLER } from './support/node-config.js';
import { logonFrame } from './support/ws-session.js';


/** Opens a socket, sends `frame`, and resolves with the first message's type (or how it closed). */
function tryLogon(url: string, frame: Uint8Array, options: WebSocket.ClientOptions = {}): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { localAddress: '127.0.0.1', ...options });
    const timer = setTimeout(() => { ws.terminate(); resolve('timeout'); }, 10_000);
    const done = (what: string) => { clearTimeout(timer); ws.terminate(); resolve(what); };
    ws.once('open', () => ws.send(frame));
    ws.once('message', (data: Buffer) => {
      const [first] = sbe.decodeMessages(new Uint8Array(data));
      done(first.type === 'Logout' ? `Logout: ${first.message.text}` : first.type);
    });
    ws.once('close', (code, reason) => done(`closed ${code} ${reason.toString()}`));
    ws.once('error', (e) => done(`error ${e.message}`));
  });
}

const startNode = startNodeProcess;

async function kill(child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

describe('the outside tester\'s amend, over the wire', () => {
  it('[OPS-1] [SL-10] one frame with CancelOrder then AmendOrder (10,000 → 50,000) of one resting sell: cancelled, the amend refused, the node up and its holds exact', async () => {
    const env = await gatewayNode([[1, SELLER]], 100);
    const ws = new WebSocket(env.url);
    const got: sbe.Decoded[] = [];
    ws.on('message', (data: Buffer) => got.push(...sbe.decodeMessages(new Uint8Array(data))));
    await new Promise((r) => ws.once('open', r));
    const v = new DataView(new ArrayBuffer(1024));
    const until = async (what: () => boolean) => {
      for (const end = Date.now() + 15_000; !what() && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    };
    ws.send(logonFrame(1, env.pems.get(1)!));
    await until(() => got.some((d) => d.type === 'LogonAck'));
    // Other funds held by the same account, as in the report (the double release went unnoticed).
    for (const [clOrdId, qty] of [[1, 10_000], [2, 5_000]]) {
      ws.send(new Uint8Array(v.buffer, 0, sbe.encodeNewOrder(v, 0, {
        clOrdId, instrument: 1, side: sbe.Side.Sell, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, stpMode: sbe.StpMode.None, price: 1_200 + clOrdId, qty,
      })));
    }
    await until(() => got.filter((d) => d.type === 'ExecutionReport').length === 2);
    let n = sbe.encodeCancelOrder(v, 0, { clOrdId: 3, origClOrdId: 1, instrument: 1, orderId: 0 });
    n += sbe.encodeAmendOrder(v, n, { clOrdId: 4, origClOrdId: 1, instrument: 1, price: 1_201, qty: 50_000 });
    ws.send(new Uint8Array(v.buffer, 0, n));
    await until(() => got.some((d) => d.type === 'CancelReject'));
    const cancelled = got.find((d) => d.type === 'ExecutionReport' && d.message.execType === sbe.ExecType.Cancelled)!.message as sbe.ExecutionReport;
    expect(cancelled).toMatchObject({ clOrdId: 1, requestClOrdId: 3, leavesQty: 0, cancelReason: sbe.CancelReason.User });
    expect(got.find((d) => d.type === 'CancelReject')!.message).toMatchObject({ clOrdId: 4, origClOrdId: 1, reason: sbe.RejectReason.UnknownOrder });
    await env.node.drain();
    env.node.checkInvariants();
    expect(env.node.ledger.balance(SELLER, 1)).toEqual({ available: 100_000 - 5_000, held: 5_000 });
    // And a cancel-on-disconnect later (where the broken holds once stopped the node) is fine.
    ws.close();
    await new Promise((r) => setTimeout(r, 50));
    await env.node.submit({ type: 'massCancel', account: SELLER });
    env.node.checkInvariants();
    expect(env.node.ledger.balance(SELLER, 1)).toEqual({ available: 100_000, held: 0 });
    await env.close();
  });
});

describe('sockets that never log on', () => {
  it('[OPS-1] a flood of 4,096 sockets from 64 addresses, each reopened when closed, keeps no trader out', async () => {
    const env = await gatewayNode([[1, BUYER]]);
    const FLOOD_MS = 4_000;
    // The attacker is a process of its own, as it would be.
    const attacker = spawn(process.execPath, [join(__dirname, 'support/flood.mjs'), env.url, '4096', '64', String(FLOOD_MS)]);
    let out = '';
    attacker.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const done = new Promise<void>((r) => attacker.once('exit', () => r()));
    while (!out.includes('started')) await new Promise((r) => setTimeout(r, 10));
    let peakUnattached = 0;
    const sampler = setInterval(() => { peakUnattached = Math.max(peakUnattached, env.server.unattachedCount); }, 5);
    // A trader logs on again and again during the flood.
    const deadline = Date.now() + FLOOD_MS - 500;
    await new Promise((r) => setTimeout(r, 300));
    const outcomes: string[] = [];
    while (Date.now() < deadline) outcomes.push(await tryLogon(env.url, logonFrame(1, env.pems.get(1)!)));
    await done;
    clearInterval(sampler);
    const flood = JSON.parse(out.trim().split('\n').pop()!) as { opened: number; connected: number; closedBy: Record<string, number> };
    expect(outcomes.length).toBeGreaterThan(10);
    expect(outcomes.filter((o) => o !== 'LogonAck')).toEqual([]);
    // The flood was real and was held off: its sockets were displaced (the oldest of the address
    // holding the most) whenever the unattached pool was full, and the pool never grew past it.
    expect(flood.opened).toBeGreaterThan(4_096);
    expect(env.server.stats.connectionsDisplaced).toBeGreaterThan(100);
    expect(flood.closedBy['1013']).toBeGreaterThan(100);
    expect(peakUnattached).toBeLessThanOrEqual(UNATTACHED_MAX);
    await env.close();
  }, 60_000);

  it('[OPS-1] per source address: past the bound a new socket is refused with the reason, and a logon frees its slot', async () => {
    const env = await gatewayNode([[1, BUYER]], 1, { unattachedPerAddressMax: 2 });
    const connect = () => new Promise<{ ws: WebSocket; closed: Promise<[number, string]> }>((resolve, reject) => {
      const ws = new WebSocket(env.url, { localAddress: '127.0.0.7' });
      const closed = new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
      ws.once('open', () => resolve({ ws, closed })).once('error', reject);
    });
    const a = await connect();
    await connect();
    const c = await connect();
    expect(await c.closed).toEqual([1013, '2 connections from 127.0.0.7 not logged on yet; log on first']);
    a.ws.send(logonFrame(1, env.pems.get(1)!));
    await new Promise((r) => a.ws.once('message', r));
    const d = await connect();
    d.ws.send(logonFrame(1, env.pems.get(1)!));
    const [reply] = sbe.decodeMessages(new Uint8Array(await new Promise<Buffer>((r) => d.ws.once('message', r))));
    expect(reply.type).toBe('LogonAck');
    await env.close();
  });
});

describe('public market data without a logon', () => {
  it('[OPS-1] is bounded per source address: one more subscriber is closed with the reason; a session of that address still subscribes', async () => {
    const env = await gatewayNode([[1, BUYER]], 1, { publicPerAddressMax: 2 });
    const subscriber = async (logon?: Uint8Array) => {
      const ws = new WebSocket(env.url, { localAddress: '127.0.0.9' });
      const got: sbe.Decoded[] = [];
      ws.on('message', (data: Buffer) => got.push(...sbe.decodeMessages(new Uint8Array(data))));
      const closed = new Promise<[number, string]>((r) => ws.once('close', (code, reason) => r([code, reason.toString()])));
      await new Promise((r) => ws.once('open', r));
      const v = new DataView(new ArrayBuffer(1024));
      let n = 0;
      if (logon) {
        new Uint8Array(v.buffer).set(logon);
        n = logon.length;
      }
      n += sbe.encodeSubscribe(v, n, { instrument: 1, channel: sbe.Channel.Book });
      ws.send(new Uint8Array(v.buffer, 0, n));
      for (let i = 0; i < 200 && !got.some((d) => d.type === 'BookSnapshot'); i++) {
        if (await Promise.race([closed.then(() => true), new Promise((r) => setTimeout(() => r(false), 10))])) break;
      }
      return { ws, got, closed };
    };
    const a = await subscriber();
    const b = await subscriber();
    expect([a.got.map((d) => d.type), b.got.map((d) => d.type)]).toEqual([['BookSnapshot'], ['BookSnapshot']]);
    const c = await subscriber();
    expect(await c.closed).toEqual([1013, 'too many public-data connections without a logon (2 from 127.0.0.9); log on or try later']);
    const d = await subscriber(logonFrame(1, env.pems.get(1)!));
    expect(d.got.map((m) => m.type)).toEqual(['LogonAck', 'InstrumentList', 'BookSnapshot']);
    // A slot frees when a subscriber leaves.
    a.ws.close();
    await a.closed;
    const e = await subscriber();
    expect(e.got.map((m) => m.type)).toEqual(['BookSnapshot']);
    for (const x of [b, d, e]) x.ws.close();
    await env.close();
  });
});

describe('a captured logon', () => {
  it('[OPS-1] is refused after a restart, a SIGKILL included, while a fresh logon of the same key is served', async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-replay-'));
    let node = await startNode(data);
    const key = node.keys[0];
    const captured = logonFrame(key.keyId, key.privateKeyPem);
    expect(await tryLogon(node.url, captured)).toBe('LogonAck');
    expect(await tryLogon(node.url, captured)).toBe('Logout: nonce already used');
    await kill(node.child, 'SIGKILL');
    node = await startNode(data);
    expect(await tryLogon(node.url, captured)).toBe('Logout: nonce already used');
    expect(await tryLogon(node.url, logonFrame(key.keyId, key.privateKeyPem))).toBe('LogonAck');
    await kill(node.child, 'SIGTERM');
    node = await startNode(data);
    expect(await tryLogon(node.url, captured)).toBe('Logout: nonce already used');
    await kill(node.child, 'SIGTERM');
  }, 60_000);

  it('[OPS-1] messages sent right behind a Logon, in the same frame, wait for it and are handled in order', async () => {
    const env = await gatewayNode([[1, SELLER]]);
    const v = new DataView(new ArrayBuffer(1024));
    const logon = logonFrame(1, env.pems.get(1)!);
    new Uint8Array(v.buffer).set(logon);
    let n = logon.length;
    n += sbe.encodeNewOrder(v, n, { clOrdId: 5, instrument: 1, side: sbe.Side.Sell, ordType: sbe.OrdType.Limit, timeInForce: sbe.TimeInForce.GTC, price: 1_000, qty: 3, stpMode: 0 as sbe.StpMode });
    const ws = new WebSocket(env.url);
    const got: sbe.Decoded[] = [];
    ws.on('message', (data: Buffer) => got.push(...sbe.decodeMessages(new Uint8Array(data))));
    await new Promise((r) => ws.once('open', r));
    ws.send(new Uint8Array(v.buffer, 0, n));
    for (const end = Date.now() + 15_000; !got.some((d) => d.type === 'ExecutionReport') && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(got.map((d) => d.type)).toEqual(['LogonAck', 'InstrumentList', 'ExecutionReport']);
    expect(got[2].message).toMatchObject({ clOrdId: 5, execType: sbe.ExecType.New, qty: 3 });
    ws.close();
    await env.close();
  });
});

describe('wss://', () => {
  it('[OPS-1] the node serves wss:// with a certificate and key; the SDK trades over it; plain ws:// is not answered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-tls-'));
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
    expect(made.status, made.stderr).toBe(0);
    const node = await startNode(join(dir, 'data'), ['--tls-cert', cert, '--tls-key', key]);
    expect(node.url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/ws$/);
    const ca = readFileSync(cert);
    const client = await JunctionClient.connect({ url: node.url, keyId: node.keys[0].keyId, privateKeyPem: node.keys[0].privateKeyPem, reconnect: false, ca });
    expect(client.logonAck!.account).toBe(10);
    client.close();
    // Without trusting the certificate, the client refuses the server; over plain ws:// nothing is served.
    expect(await tryLogon(node.url, logonFrame(node.keys[0].keyId, node.keys[0].privateKeyPem))).toMatch(/^error .*self.signed/);
    expect(await tryLogon(node.url.replace('wss:', 'ws:'), logonFrame(node.keys[0].keyId, node.keys[0].privateKeyPem))).not.toBe('LogonAck');
    await kill(node.child, 'SIGTERM');
  }, 60_000);
});
