// The SBE codec generated from src/protocol/junction-sbe.xml: every message round-trips, every
// malformed frame is refused with an error naming the field, and the committed codec is current.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as codec from '../src/protocol/codec.js';
import { generate, parseSchema } from '../src/protocol/generate.js';

const XML = readFileSync(join(__dirname, '../src/protocol/junction-sbe.xml'), 'utf8');
const schema = parseSchema(XML);

type Field = (typeof schema.messages)[number]['fields'][number];

/** A valid value for every field, different per field and entry. */
function sample(fields: Field[], salt: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  fields.forEach((f, i) => {
    const n = salt * 100 + i + 1;
    const t = f.type;
    if (t.kind === 'chars') out[f.name] = `F${n}`.slice(0, t.length);
    else if (t.kind === 'bytes') out[f.name] = Uint8Array.from({ length: t.length }, (_, k) => (k + n) & 0xff);
    else if (t.kind === 'timestamp') out[f.name] = 1_795_307_785_081_000_000n + BigInt(n);
    else if (t.kind === 'enum') {
      const values = Object.values((codec as unknown as Record<string, Record<string, number>>)[t.enumName!]);
      out[f.name] = values[n % values.length];
    } else if (t.primitive === 'int64') out[f.name] = -(2 ** 40) - n;
    else if (t.primitive === 'uint64') out[f.name] = 2 ** 50 + n;
    else if (t.primitive === 'uint32') out[f.name] = 4_000_000_000 + n;
    else out[f.name] = n % 200;
  });
  return out;
}

function encode(name: string, message: object): Uint8Array {
  const fns = codec as unknown as Record<string, (...a: unknown[]) => number>;
  const bytes = new Uint8Array(fns[`sizeOf${name}`](message));
  const written = fns[`encode${name}`](new DataView(bytes.buffer), 0, message);
  expect(written).toBe(bytes.byteLength);
  return bytes;
}

const NEW_ORDER: codec.NewOrder = {
  clOrdId: 7, instrument: 1, side: codec.Side.Sell, ordType: codec.OrdType.Limit, timeInForce: codec.TimeInForce.GTC,
  stpMode: codec.StpMode.None, price: 95_000_000_000, qty: 10_000,
};

describe('SBE codec', () => {
  it('[OPS-1] every message of the schema round-trips through its encoder and decodeFrame', () => {
    expect(schema.messages.length).toBe(37);
    for (const m of schema.messages) {
      const message: Record<string, unknown> = sample(m.fields, 0);
      m.groups.forEach((g, gi) => (message[g.name] = [sample(g.fields, gi + 1), sample(g.fields, gi + 2)]));
      // Variable-length text: multi-byte UTF-8 (2, 3 and 4 bytes a character) beside ASCII.
      m.data.forEach((d, di) => (message[d.name] = `{"${d.name}": "é ✓ 𝄞 ${di}"}`));
      const frame = encode(m.name, message);
      const decoded = codec.decodeFrame(frame);
      expect(decoded.type).toBe(m.name);
      expect(decoded.templateId).toBe(m.id);
      expect(decoded.message).toEqual(message);
    }
  });

  it('[OPS-1] lays out the header and block as the schema says (little-endian, fixed offsets)', () => {
    const frame = encode('NewOrder', NEW_ORDER);
    // Version 2 added reduceOnly at the end of NewOrder's block.
    expect(frame.byteLength).toBe(8 + 33);
    const v = new DataView(frame.buffer);
    expect([v.getUint16(0, true), v.getUint16(2, true), v.getUint16(4, true), v.getUint16(6, true)]).toEqual([33, 10, 7001, 2]);
    expect(v.getBigUint64(8, true)).toBe(7n);
    expect(v.getUint8(8 + 12)).toBe(1);
    expect(v.getBigInt64(8 + 16, true)).toBe(95_000_000_000n);
  });

  it('[OPS-1] refuses malformed frames with an error naming the field', () => {
    const good = encode('NewOrder', NEW_ORDER);
    const cases: [Uint8Array, string, RegExp][] = [
      [good.slice(0, 5), 'messageHeader', /shorter than the 8-byte header/],
      [withU16(good, 4, 9999), 'schemaId', /9999 is not 7001/],
      [withU16(good, 6, 3), 'version', /3 is newer than 2/],
      [withU16(good, 2, 999), 'templateId', /999 is not a message/],
      [withU16(good, 0, 16), 'blockLength', /shorter than NewOrder's 32/],
      [good.slice(0, 30), 'qty', /frame ends inside the message block/],
      [withU8(good, 8 + 12, 7), 'side', /7 is not a valid Side/],
      [withU8(good, 8 + 15, 9), 'stpMode', /9 is not a valid StpMode/],
      [Uint8Array.from([...good, 0]), 'frame', /1 bytes after the end of NewOrder/],
      [withU32(good, 8 + 20, 0x00400000), 'price', /beyond/],
    ];
    for (const [frame, field, problem] of cases) {
      let error: unknown;
      try {
        codec.decodeFrame(frame);
      } catch (e) {
        error = e;
      }
      expect(error, field).toBeInstanceOf(codec.DecodeError);
      expect((error as codec.DecodeError).field).toBe(field);
      expect((error as codec.DecodeError).problem).toMatch(problem);
    }
    const batch = encode('BatchNewOrders', { orders: [NEW_ORDER, NEW_ORDER] });
    expect(() => codec.decodeFrame(batch.slice(0, batch.byteLength - 3))).toThrow('orders: frame ends inside entry 1 of 2');
    expect(() => codec.decodeFrame(withU16(batch, 10, 5000))).toThrow('orders.numInGroup: 5000 is over 4096');
    expect(() => codec.decodeFrame(withU8(batch, 8 + 4 + 32 + 12, 3))).toThrow('orders.side: 3 is not a valid Side');
  });

  it('[OPS-1] variable-length UTF-8 text: its length in bytes before it, after the block; a cut or non-UTF-8 one is refused by name', () => {
    const body = '{"query":"venues","note":"é✓"}';
    const frame = encode('AdminRequest', { reqId: 9, body });
    const v = new DataView(frame.buffer);
    const bytes = Buffer.byteLength(body);
    expect(frame.byteLength).toBe(8 + 8 + 4 + bytes);
    expect(v.getUint32(16, true)).toBe(bytes);
    expect(Buffer.from(frame.subarray(20)).toString('utf8')).toBe(body);
    expect(codec.messageEnd(v, 0, frame.byteLength)).toBe(frame.byteLength);
    expect(() => codec.decodeFrame(frame.slice(0, 18))).toThrow('body: frame ends before its length');
    expect(() => codec.decodeFrame(frame.slice(0, frame.byteLength - 1))).toThrow(`body: frame ends inside its ${bytes} bytes`);
    expect(() => codec.decodeFrame(withU8(frame, 20, 0xff))).toThrow('body: not UTF-8');
    // Back to back with other messages: each ends where its length says.
    const pair = Uint8Array.from([...frame, ...encode('Heartbeat', { testReqId: 1 }), ...frame]);
    expect(codec.decodeMessages(pair).map((d) => d.type)).toEqual(['AdminRequest', 'Heartbeat', 'AdminRequest']);
    // Encoding into too small a buffer says so rather than cutting the text.
    expect(() => codec.encodeAdminRequest(new DataView(new ArrayBuffer(30)), 0, { reqId: 1, body })).toThrow(`body: ${bytes} bytes do not fit in the 10 left`);
  });

  it('[OPS-1] a frame of several messages back to back decodes whole, or not at all', () => {
    const level = { side: 0, price: 1_000, qty: 5, count: 2 };
    const parts = [
      encode('BookUpdate', { instrument: 1, bookSeq: 7, levels: [level, { ...level, side: 1, price: 1_001 }] }),
      encode('NewOrder', NEW_ORDER),
      encode('BatchNewOrders', { orders: [NEW_ORDER, NEW_ORDER, NEW_ORDER] }),
      encode('Heartbeat', { testReqId: 3 }),
    ];
    const frame = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    parts.reduce((at, p) => (frame.set(p, at), at + p.byteLength), 0);
    expect(codec.decodeMessages(frame)).toEqual(parts.map((p) => codec.decodeFrame(p)));
    expect(codec.decodeMessages(frame).map((d) => d.type)).toEqual(['BookUpdate', 'NewOrder', 'BatchNewOrders', 'Heartbeat']);
    // decodeFrame takes exactly one message.
    expect(() => codec.decodeFrame(frame)).toThrow(`frame: ${frame.byteLength - parts[0].byteLength} bytes after the end of BookUpdate`);
    const cut = parts[0].byteLength + parts[1].byteLength + 20;
    expect(() => codec.decodeMessages(frame.slice(0, cut))).toThrow('orders: frame ends inside entry 0 of 3 (message 3 of the frame)');
    expect(() => codec.decodeMessages(frame.slice(0, parts[0].byteLength + 5))).toThrow('messageHeader: 5 bytes are shorter than the 8-byte header (message 2 of the frame)');
  });

  it('[OPS-1] refuses to encode what the wire cannot carry', () => {
    expect(() => encode('NewOrder', { ...NEW_ORDER, price: 2 ** 60 })).toThrow('price: 1152921504606847000 is not a safe integer');
    expect(() => encode('Logout', { reason: 1, text: 'x'.repeat(65) })).toThrow('text: longer than 64 characters');
    expect(() => encode('NewOrder', { ...NEW_ORDER, clOrdId: -1 })).toThrow('clOrdId: -1 is not a non-negative safe integer');
  });

  it('[OPS-1] versions: a block of an older version decodes, its later fields read as 0; each message says the version its layout dates from', () => {
    // A version-1 NewOrder: 32 bytes of block under a version-1 header, as a client built on version 1 sends it.
    const old = encode('NewOrder', NEW_ORDER).slice(0, 8 + 32);
    new DataView(old.buffer).setUint16(0, 32, true);
    new DataView(old.buffer).setUint16(6, 1, true);
    expect(codec.decodeFrame(old).message).toEqual({ ...NEW_ORDER, reduceOnly: codec.BooleanType.False });
    const m = { ...NEW_ORDER, price: 0, qty: 0 } as codec.NewOrder;
    expect(codec.readNewOrder(new DataView(old.buffer), 8, 32, old.byteLength, m)).toEqual({ ...NEW_ORDER, reduceOnly: codec.BooleanType.False });
    // Shorter than version 1's block is still refused.
    expect(() => codec.decodeFrame(withU16(old, 0, 31))).toThrow("blockLength: 31 is shorter than NewOrder's 32");
    // Messages unchanged since version 1 say 1 (a version-1 decoder reads them); new or changed ones say 2.
    const versionOf = (name: string, m: object) => new DataView(encode(name, m).buffer).getUint16(6, true);
    expect(versionOf('ExecutionReport', sample(schema.messages.find((x) => x.name === 'ExecutionReport')!.fields, 0))).toBe(1);
    expect(versionOf('NewOrder', NEW_ORDER)).toBe(2);
    expect(versionOf('Heartbeat', { testReqId: 1 })).toBe(1);
    for (const name of ['PriceUpdate', 'PriceUpdateAck', 'PerpAccountUpdate', 'PerpPositionUpdate', 'PerpMarket']) {
      expect(schema.messages.find((x) => x.name === name)!.version, name).toBe(2);
    }
    // A field added later that is not at the end of its block is refused by the generator.
    expect(() => parseSchema(XML.replace('<field name="price" id="7" type="int64"/>\n    <field name="qty" id="8" type="int64"/>\n    <field name="reduceOnly"',
      '<field name="price" id="7" type="int64" sinceVersion="2"/>\n    <field name="qty" id="8" type="int64"/>\n    <field name="reduceOnly"')))
      .toThrow('NewOrder.qty: a field of version 0 after one of version 2: later fields go at the end of the block');
    // A group's entries keep their size: 2,000 orders of 32 bytes fill a 64 KiB frame.
    expect(() => parseSchema(XML.replace('<field name="qty" id="8" type="int64"/>\n    </group>', '<field name="qty" id="8" type="int64"/>\n      <field name="extra" id="9" type="uint8" sinceVersion="2"/>\n    </group>')))
      .toThrow("BatchNewOrders.orders: a group's entries cannot gain a field (each would grow, and a frame hold fewer)");
  });

  it('[OPS-1] the committed codec is what the generator makes from the schema', () => {
    expect(readFileSync(join(__dirname, '../src/protocol/codec.ts'), 'utf8')).toBe(generate(XML));
  });
});

function withU8(frame: Uint8Array, at: number, value: number): Uint8Array {
  const copy = frame.slice();
  copy[at] = value;
  return copy;
}
function withU16(frame: Uint8Array, at: number, value: number): Uint8Array {
  const copy = frame.slice();
  new DataView(copy.buffer).setUint16(at, value, true);
  return copy;
}
function withU32(frame: Uint8Array, at: number, value: number): Uint8Array {
  const copy = frame.slice();
  new DataView(copy.buffer).setUint32(at, value, true);
  return copy;
}
