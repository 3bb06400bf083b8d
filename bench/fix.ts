// FIX bridge load: one FIX 4.4 session over loopback with open-loop order flow, against the node
// as `npm start` runs it (a child process on a fresh data folder, demo venues). Prints one line:
// {"orders_per_s","ack_p50_us","ack_p99_us","commit_p99_us", ...}
// order→ack is from writing a NewOrderSingle to reading its first ExecutionReport (durable by
// then); commit_p99_us is the node's own LMDB commit latency over the same window.
// usage: npm run bench:fix -- --rate R --seconds S [--warmup S (default 3)] [--batch B (orders per write, default 1)]
// Orders are IOC buys of venue client SG-C1 at the bottom of the price band: each is acknowledged
// (New, then Cancelled) and the book stays empty, so the load is steady.
import { spawn } from 'node:child_process';
import { ackFigures, lineOf, openLoop, stopNode, type MeasuredWindow } from './child.js';
import { sign } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { FixBlob, FixWriter, fixTime } from '../src/gateway/fix/codec.js';

/** An IOC buy of venue client SG-C1 at the bottom of the band: acknowledged, then cancelled. */
const ORDER_FIELDS = '1=SG-C1\x0155=BTC-USD\x0154=1\x0138=0.0001\x0140=2\x0144=90250\x0159=3\x01';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '10' }, warmup: { type: 'string', default: '3' },
    batch: { type: 'string', default: '1' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BATCH = Math.max(1, Number(values.batch));
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const nowUs = () => Number(process.hrtime.bigint() / 1000n);


const data = mkdtempSync(join(tmpdir(), 'junction-bench-fix-'));
const statsFile = join(data, 'stats.json');
const node = spawn(process.execPath, [...(process.env.JUNCTION_NODE_ARGS ? process.env.JUNCTION_NODE_ARGS.split(' ') : []), join(root, 'dist/src/node.js'), '--data', data, '--port', '0', '--fix-port', '0', '--stats', statsFile, '--demo-sources', 'off'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const ready = JSON.parse(await lineOf(node, (l) => l.includes('"ready"')));
const venue = (JSON.parse(readFileSync(ready.venues, 'utf8')) as { venue: string; senderCompId: string; targetCompId: string; privateKeyPem: string }[])
  .find((v) => v.venue === 'venue-sg')!;
const [host, port] = (ready.fix as string).split(':');

const ack = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const sent = new Float64Array(Math.ceil(RATE * (SECONDS + Number(values.warmup) + 2)) + BATCH + 1);
/** The measured window (after the warm-up). */
const window: MeasuredWindow = { measuring: false, from: 0 };
let acked = 0;
let rejected = 0;
let sessionRejects = 0;
let loggedOn: () => void;
const logon = new Promise<void>((r) => (loggedOn = r));

const socket = connect({ host, port: Number(port) });
socket.setNoDelay(true);
await new Promise((r) => socket.once('connect', r));
const writer = new FixWriter(venue.senderCompId, venue.targetCompId);
let seq = 1;
{
  const sendingTime = fixTime(Date.now());
  const signature = sign(null, Buffer.from(`${sendingTime}\x01A\x01${seq}\x01${venue.senderCompId}\x01${venue.targetCompId}`, 'latin1'), venue.privateKeyPem).toString('base64');
  socket.write(writer.write('A', seq++, sendingTime, `98=0\x01108=30\x0195=${signature.length}\x0196=${signature}\x01`));
}

// Read in place, as a venue's engine would: each message's type, and an ExecutionReport's ClOrdID
// and ExecType, found by searching the bytes (no object per message: the measuring client's own
// garbage collection stays out of the figures).
const TYPE = Buffer.from('\x0135=', 'latin1');
const CLORDID = Buffer.from('\x0111=', 'latin1');
const EXECTYPE = Buffer.from('\x01150=', 'latin1');
let pending: Buffer = Buffer.alloc(0);
socket.on('data', (chunk: Buffer) => {
  const receivedAt = nowUs();
  const b = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
  let at = 0;
  for (;;) {
    const lengthAt = b.indexOf('\x019=', at, 'latin1');
    if (lengthAt < 0) break;
    const soh = b.indexOf(1, lengthAt + 3);
    if (soh < 0) break;
    const end = soh + 1 + Number(b.toString('latin1', lengthAt + 3, soh)) + 7;
    if (end > b.length) break;
    const typeAt = b.indexOf(TYPE, lengthAt) + 4;
    const type = b[typeAt];
    if (type === 0x41) loggedOn();
    else if (type === 0x33 && b[typeAt + 1] === 1) sessionRejects++;
    else if (type === 0x38 && b[typeAt + 1] === 1) {
      const idAt = b.indexOf(CLORDID, typeAt) + 4;
      let id = 0;
      for (let i = idAt; b[i] !== 1; i++) id = id * 10 + (b[i] - 48);
      const sentAt = id < sent.length ? sent[id] : 0;
      if (sentAt !== 0) {
        sent[id] = 0; // the first report (New or Rejected) is the ack
        const execType = b[b.indexOf(EXECTYPE, typeAt) + 5];
        if (execType === 0x38) rejected++;
        if (window.measuring) {
          acked++;
          ack.recordValue(Math.max(1, receivedAt - sentAt));
        }
      }
    }
    at = end;
  }
  pending = at < b.length ? Buffer.from(b.subarray(at)) : Buffer.alloc(0);
});
await logon;

let clOrdId = 1;
const started = nowUs();
let sendingTime = fixTime(Date.now());
let sendingTimeAt = Date.now();
const measuredUs = await openLoop(node, window, started, Number(values.warmup), SECONDS, nowUs, (now) => {
  if (Date.now() - sendingTimeAt >= 1) {
    sendingTimeAt = Date.now();
    sendingTime = fixTime(sendingTimeAt);
  }
  // The schedule is by elapsed time, not by ticks (timers fire late under load).
  let due = Math.floor((RATE * (now - started)) / 1e6) - (clOrdId - 1);
  while (due > 0) {
    const n = Math.min(due, BATCH);
    due -= n;
    const at = nowUs();
    // One buffer per write, the orders written into it field by field (the client's own garbage
    // collection stays out of the figures).
    const blob = new FixBlob(256 * n);
    for (let i = 0; i < n; i++) {
      const id = clOrdId++;
      blob.begin(writer, 'D', seq++, sendingTime);
      blob.int(11, id);
      blob.raw(ORDER_FIELDS);
      blob.text(60, sendingTime);
      blob.end();
      if (id < sent.length) sent[id] = at;
    }
    socket.write(blob.view());
  }
});
await new Promise((r) => setTimeout(r, 500)); // let the last acks land
socket.destroy();
const stats = await stopNode(node, statsFile, data);
console.log(JSON.stringify({
  ...ackFigures(ack, acked, measuredUs),
  commit_p99_us: stats.commit_p99_us,
  commit_per_order_p99_us: stats.commit_per_order_p99_us,
  offered_per_s: RATE,
  rejected,
  session_rejects: sessionRejects,
  commits: stats.commits,
  commands_per_commit: Math.round(stats.commands / Math.max(1, stats.commits)),
  commit_p50_us: stats.commit_p50_us,
  gc_pause_p99_us: stats.gc_pause_p99_us,
  gc_pauses: stats.gc_pauses,
  gc_by_kind: stats.gc_by_kind,
  order_in_node_p50_us: stats.order_in_node_p50_us,
  order_in_node_p99_us: stats.order_in_node_p99_us,
  cpu_us_per_command: stats.cpu_us_per_command,
  alloc_bytes_per_command: stats.alloc_bytes_per_command,
  loop_delay_p99_us: stats.loop_delay_p99_us,
}));
