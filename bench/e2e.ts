// End-to-end load: drives a running node over loopback websockets with open-loop order flow and
// prints one JSON line:
// {"orders_per_s","ack_p50_us","ack_p99_us","ack_p999_us","echo_p50_us","echo_p99_us","commit_p99_us", ...}
// commit_p99_us is over commits; commit_per_order_p99_us weights each commit by the orders in it
// (the commit each order waited for: a slow commit usually carries more orders).
// order→ack is from sending an order to receiving its first execution report (durable by then);
// in the same run a plain uWebSockets.js echo server's round trip and the node's LMDB commit
// latency are measured, so the node's own overhead shows.
// usage: npm run bench:e2e -- --clients C --rate R --seconds S [--batch B] [--warmup S (default 3)]
// It starts the node (dist/src/node.js on a fresh data folder) and the echo server as child
// processes, so the load generator, the node and the echo server each have their own event loop.
import { spawn } from 'node:child_process';
import { ackFigures, lineOf, openLoop, stopNode, type MeasuredWindow } from './child.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { signLogon } from '../src/gateway/ws/auth.js';
import * as sbe from '../src/protocol/codec.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' }, rate: { type: 'string', default: '20000' }, seconds: { type: 'string', default: '10' },
    batch: { type: 'string', default: '1' }, warmup: { type: 'string', default: '3' },
  },
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BATCH = Math.max(1, Number(values.batch));
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');


const data = mkdtempSync(join(tmpdir(), 'junction-bench-e2e-'));
const statsFile = join(data, 'stats.json');
const node = spawn(process.execPath, [...(process.env.JUNCTION_NODE_ARGS ? process.env.JUNCTION_NODE_ARGS.split(' ') : []), join(root, 'dist/src/node.js'), '--data', data, '--port', '0', '--demo-keys', String(CLIENTS + 2), '--stats', statsFile, '--demo-sources', 'off'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const ready = JSON.parse(await lineOf(node, (l) => l.includes('"ready"')));
const keys = JSON.parse(readFileSync(ready.keys, 'utf8')) as { keyId: number; account: number; privateKeyPem: string }[];
const echo = spawn(process.execPath, ['-e', `
  const uWS = require(${JSON.stringify(join(root, 'node_modules/uWebSockets.js'))});
  uWS.App().ws('/echo', { message: (ws, m, binary) => ws.send(m, binary) })
    .listen('127.0.0.1', 0, (s) => console.log('echo ' + uWS.us_socket_local_port(s)));
`], { stdio: ['ignore', 'pipe', 'inherit'] });
const echoPort = Number((await lineOf(echo, (l) => l.startsWith('echo '))).split(' ')[1]);

const ack = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const echoRtt = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

// Market-maker clients: one key each (keys 1 and 3.. trade for the market maker's account).
const makers = keys.filter((k) => k.account === 10).slice(0, CLIENTS);
let acked = 0;
let rejected = 0;
let refused = 0;
/** Refusals by their reason's name (busy, rate limited, …). */
const refusedBy = new Map<number, number>();
/** The measured window (after the warm-up). */
const window: MeasuredWindow = { measuring: false, from: 0 };
/** Send time (µs) by clOrdId (ids run 1, 2, … over all clients), 0 once acknowledged. */
const sent = new Float64Array(Math.ceil(RATE * (SECONDS + Number(values.warmup) + 2)) + BATCH + 1);
const clients = await Promise.all(makers.map((key) => new Promise<{ ws: WebSocket; sent: Float64Array }>((resolve, reject) => {
  const ws = new WebSocket(ready.url);
  ws.on('open', () => {
    const timestampNs = BigInt(Date.now()) * 1_000_000n;
    const nonce = Math.floor(Math.random() * 2 ** 40);
    const b = new Uint8Array(sbe.sizeOfLogon({} as sbe.Logon));
    sbe.encodeLogon(new DataView(b.buffer), 0, {
      keyId: key.keyId, timestampNs, nonce, heartbeatMs: 0, cancelOnDisconnect: 0, signature: signLogon(key.privateKeyPem, key.keyId, timestampNs, nonce),
    });
    ws.send(b);
  });
  ws.on('error', reject);
  ws.on('message', (d: Buffer) => {
    const receivedAt = nowUs();
    // Read in place, as a market maker's client would: only each message's template, and an
    // execution report's clOrdId and execType (no objects per message, so the measuring client's
    // own garbage collection stays out of the figures).
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    for (let at = 0; at < d.byteLength;) {
      const end = sbe.messageEnd(v, at, d.byteLength);
      const templateId = v.getUint16(at + 2, true);
      if (templateId === sbe.TemplateId.LogonAck) resolve({ ws, sent });
      if (templateId === sbe.TemplateId.SessionReject && window.measuring) {
        // Busy or rate limited: not acknowledged.
        refused++;
        const reason = v.getUint16(at + 8 + 2, true);
        refusedBy.set(reason, (refusedBy.get(reason) ?? 0) + 1);
      }
      if (templateId === sbe.TemplateId.ExecutionReport) {
        const b = at + sbe.HEADER_BYTES;
        const clOrdId = v.getUint32(b + sbe.EXECUTIONREPORT_OFFSETS.clOrdId, true) + 2 ** 32 * v.getUint32(b + sbe.EXECUTIONREPORT_OFFSETS.clOrdId + 4, true);
        const sentAt = clOrdId < sent.length ? sent[clOrdId] : 0;
        if (sentAt !== 0) {
          sent[clOrdId] = 0; // the first report (New or Rejected) is the ack
          if (v.getUint8(b + sbe.EXECUTIONREPORT_OFFSETS.execType) === sbe.ExecType.Rejected) rejected++;
          if (window.measuring) {
            acked++;
            ack.recordValue(Math.max(1, receivedAt - sentAt));
          }
        }
      }
      at = end;
    }
  });
})));

// The echo probe runs alongside the load.
const probe = new WebSocket(`ws://127.0.0.1:${echoPort}/echo`);
await new Promise((r) => probe.once('open', r));
const probeSent = new Map<number, number>();
probe.on('message', (d: Buffer) => {
  const id = d.readUInt32LE(0);
  const at = probeSent.get(id);
  if (at !== undefined && window.measuring) echoRtt.recordValue(Math.max(1, nowUs() - at));
  probeSent.delete(id);
});

// Open loop: each tick sends what the schedule says is due, whatever has come back.
// Orders are IOC buys far below the market: each is acknowledged (New, then Cancelled) and the
// book stays empty, so the load is steady.
let clOrdId = 1;
let due = 0;
let probeId = 0;
let frames = 0;
const buffer = new DataView(new ArrayBuffer(1 << 16));
const started = nowUs();
// Warm-up (JIT, heap sizing, and the backlog a cold node builds at high rates) is not measured.
const measuredUs = await openLoop(node, window, started, Number(values.warmup), SECONDS, nowUs, (now) => {
  // The schedule is by elapsed time, not by ticks (timers fire late under load).
  due = (RATE * (now - started)) / 1e6 - (clOrdId - 1);
  while (due >= BATCH) {
    due -= BATCH;
    // Frames go round the connections in turn (by clOrdId they would skip some when a frame holds
    // an even number of orders, and those left would hit their rate limit).
    const c = clients[frames++ % clients.length];
    const orders: sbe.NewOrder[] = [];
    const first = clOrdId;
    for (let i = 0; i < BATCH; i++) {
      orders.push({ clOrdId: clOrdId++, instrument: 1, side: 0, ordType: 0, timeInForce: 1, stpMode: 255, price: 90_250_000_000, qty: 10_000 });
    }
    const n = BATCH === 1 ? sbe.encodeNewOrder(buffer, 0, orders[0]) : sbe.encodeBatchNewOrders(buffer, 0, { orders });
    // Stamped as each frame goes (a tick sends many: the last would otherwise carry their time).
    const at = nowUs();
    for (let id = first; id < clOrdId && id < sent.length; id++) c.sent[id] = at;
    c.ws.send(new Uint8Array(buffer.buffer, 0, n));
  }
  // One echo probe per tick: 1,000 a second.
  const b = Buffer.alloc(48);
  b.writeUInt32LE(++probeId, 0);
  probeSent.set(probeId, nowUs());
  probe.send(b);
});
await new Promise((r) => setTimeout(r, 500)); // let the last acks land
for (const c of clients) c.ws.close();
probe.close();
echo.kill();
const commit = await stopNode(node, statsFile, data);
console.log(JSON.stringify({
  ...ackFigures(ack, acked, measuredUs),
  echo_p50_us: echoRtt.getValueAtPercentile(50),
  echo_p99_us: echoRtt.getValueAtPercentile(99),
  commit_p99_us: commit.commit_p99_us,
  commit_per_order_p99_us: commit.commit_per_order_p99_us,
  offered_per_s: RATE,
  clients: CLIENTS,
  batch: BATCH,
  rejected,
  refused,
  refused_by_reason: Object.fromEntries([...refusedBy].map(([reason, n]) => [sbe.RejectReasonNames[reason] ?? reason, n])),
  commits: commit.commits,
  commands_per_commit: Math.round(commit.commands / Math.max(1, commit.commits)),
  commit_p50_us: commit.commit_p50_us,
  node_cpu_us_per_order: commit.cpu_us_per_command,
  node_alloc_bytes_per_order: commit.alloc_bytes_per_command,
  gc_pause_p99_us: commit.gc_pause_p99_us,
  gc_pause_max_us: commit.gc_pause_max_us,
  gc_pauses: commit.gc_pauses,
  gc_by_kind: commit.gc_by_kind,
  order_in_node_p50_us: commit.order_in_node_p50_us,
  order_in_node_p99_us: commit.order_in_node_p99_us,
  node_loop_delay_p99_us: commit.loop_delay_p99_us,
  node_loop_delay_max_us: commit.loop_delay_max_us,
}));
process.exit(0);
