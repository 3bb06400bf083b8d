// A market-data subscriber that stops reading, over a real TCP connection on loopback: its socket
// is paused, so the kernel's buffers fill and then uWS's. The gateway must disconnect it with a
// reason once its unsent bytes pass the limit, while matching, a reading subscriber and a trader
// carry on untouched.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { JunctionClient } from '../src/client/client.js';
import * as sbe from '../src/protocol/codec.js';
import { BUYER, SELLER } from './support/node-config.js';
import { gatewayNode, type GatewayNode } from './support/gateway-node.js';

const SLOW_CONSUMER_BYTES = 256 * 1024;
let env: GatewayNode;
afterAll(() => env?.close());

/** Opens a websocket by hand, subscribes to an instrument's book, and stops reading. */
async function stalledSubscriber(port: number, instrument: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  let head = '';
  while (!head.includes('\r\n\r\n')) head += (await new Promise<Buffer>((resolve) => socket.once('data', resolve))).toString('latin1');
  expect(head.split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
  const message = new Uint8Array(sbe.sizeOfSubscribe({} as sbe.Subscribe));
  sbe.encodeSubscribe(new DataView(message.buffer), 0, { instrument, channel: sbe.Channel.Book });
  // A client's frame: FIN + binary, masked, with its length.
  const mask = randomBytes(4);
  socket.write(Buffer.concat([Buffer.from([0x82, 0x80 | message.byteLength]), mask, Buffer.from(message.map((b, i) => b ^ mask[i % 4]))]));
  socket.pause();
  return socket;
}

/** Reads everything left on the socket and returns the close frame's code and reason. */
async function closeFrame(socket: Socket): Promise<{ code: number; reason: string; bytes: number }> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.resume();
  await new Promise((resolve) => socket.once('close', resolve));
  const all = Buffer.concat(chunks);
  for (let at = 0; at < all.byteLength;) {
    const opcode = all[at] & 0x0f;
    let length = all[at + 1] & 0x7f;
    let data = at + 2;
    if (length === 126) [length, data] = [all.readUInt16BE(at + 2), at + 4];
    else if (length === 127) [length, data] = [Number(all.readBigUInt64BE(at + 2)), at + 10];
    if (opcode === 0x8) return { code: all.readUInt16BE(data), reason: all.toString('utf8', data + 2, data + length), bytes: all.byteLength };
    at = data + length;
  }
  throw new Error(`no close frame in ${all.byteLength} bytes`);
}

describe('slow consumer', () => {
  it('[OPS-1] a subscriber that stops reading is disconnected with a reason; matching, other subscribers and traders carry on', async () => {
    env = await gatewayNode([[1, SELLER], [2, BUYER]], 1, { slowConsumerBytes: SLOW_CONSUMER_BYTES });
    const { node, server, url, pems } = env;
    const port = Number(new URL(url).port);
    const stalled = await stalledSubscriber(port, 1);
    const reader = await JunctionClient.subscribeOnly(url);
    const gaps: number[][] = [];
    reader.on('gap', (...args: number[]) => gaps.push(args));
    reader.subscribeBook(1);
    const trader = await JunctionClient.connect({ url, keyId: 2, privateKeyPem: pems.get(2)! });

    // Busy markets: 500 asks at 500 prices appear and are cancelled, over and over; each round is
    // about 21 kB of book updates for every subscriber of instrument 1.
    let rounds = 0;
    const acks: number[] = [];
    while (server.stats.slowConsumers === 0 && rounds < 1_000) {
      const placed = [];
      for (let p = 1_001; p <= 1_500; p++) placed.push(node.submit({ type: 'order', account: SELLER, instrument: 1, side: 1, orderType: 0, tif: 0, price: p, qty: 1 }));
      expect((await Promise.all(placed)).every((o) => o.ok)).toBe(true);
      await node.submit({ type: 'massCancel', account: SELLER, instrument: 1 });
      rounds++;
      // A trader's orders during the flood are acknowledged as usual.
      if (rounds % 25 === 0) {
        acks.push((await trader.place({ instrument: 1, side: sbe.Side.Buy, price: 500, qty: 1, timeInForce: sbe.TimeInForce.IOC })).execType);
      }
      await new Promise((r) => setImmediate(r));
    }
    expect(server.stats.slowConsumers).toBe(1);
    // The kernel's buffers took some megabytes before uWS held any: dozens of rounds, not a few.
    expect(rounds).toBeGreaterThan(20);
    expect(acks).toEqual(new Array(Math.floor(rounds / 25)).fill(sbe.ExecType.New));

    // The stalled client, reading again, finds everything up to the close frame and its reason.
    const closed = await closeFrame(stalled);
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe(`slow consumer: over ${SLOW_CONSUMER_BYTES} bytes unsent`);
    expect(closed.bytes).toBeGreaterThan(SLOW_CONSUMER_BYTES);

    // The reading subscriber saw every update, in order, and holds the true book.
    await trader.place({ instrument: 1, side: sbe.Side.Buy, price: 501, qty: 1 });
    for (const end = Date.now() + 15_000; !reader.book(1)?.bids.some((l) => l.price === 501) && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(gaps).toEqual([]);
    expect(reader.book(1)).toMatchObject({ asks: [], bids: [{ price: 501, qty: 1, count: 1 }] });
    expect(server.stats.slowConsumers).toBe(1);
    reader.close();
    trader.close();
  }, 120_000);
});
