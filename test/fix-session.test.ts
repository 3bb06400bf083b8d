// The FIX session layer against a test peer: authenticated Logon and its refusals, sequence gaps
// and resends, rejects of malformed messages, and a fuzz of the framing (OPS-1, SL-7).
import { afterEach, describe, expect, it } from 'vitest';
import { fixTime } from '../src/gateway/fix/codec.js';
import { FixTestClient, fieldsOf } from './support/fix-client.js';
import { fixBridge, type Bridge } from './support/fix-bridge.js';
import { adminOk, fundReserve, venueInput, XX } from './support/venues.js';
import { mulberry32 } from './support/command-stream.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(): Promise<Bridge> {
  const b = await fixBridge();
  cleanup.push(() => b.close());
  return b;
}

async function client(b: Bridge, sender = 'VSG', pem = b.venue.privateKeyPem): Promise<FixTestClient> {
  const c = await FixTestClient.connect(b.port, sender, pem);
  cleanup.push(() => c.close());
  return c;
}

async function loggedOn(b: Bridge): Promise<FixTestClient> {
  const c = await client(b);
  c.logon();
  await c.waitFor((m) => m.msgType === 'A');
  return c;
}

/** The Logout a refused logon gets, and the connection's end. */
async function refused(c: FixTestClient): Promise<string> {
  const logout = await c.waitFor((m) => m.msgType === '5');
  await c.waitClosed();
  return logout.get(58)!;
}

describe('FIX session layer', () => {
  it('[SL-7] [OPS-1] a Logon must be signed by the venue\'s key, fresh, and from an eligible venue', async () => {
    const b = await setup();
    let c = await client(b, 'NOBODY');
    c.logon();
    expect(await refused(c)).toBe('unknown SenderCompID "NOBODY"');
    c = await client(b);
    c.logon({ tamper: true });
    expect(await refused(c)).toBe('the Logon signature (RawData) does not verify with the venue\'s key');
    c = await client(b, 'VSG', venueInput('other', 'OTHER').privateKeyPem);
    c.logon();
    expect(await refused(c)).toBe('the Logon signature (RawData) does not verify with the venue\'s key');
    c = await client(b);
    c.logon({ sendingTime: fixTime(Date.now() - 60_000) });
    expect(await refused(c)).toBe('SendingTime is more than 30 s from the node\'s clock');
    c = await client(b);
    c.send('D', '11=x|1=C1|55=BASE-QUOTE|54=1|38=1|40=2|44=1000');
    expect(await refused(c)).toBe('the first message must be a Logon(A)');
    // A venue whose jurisdiction fails the FATF test is suspended when added, and cannot log on.
    const offshore = venueInput('venue-xx', 'VXX', { jurisdiction: 'XX' });
    await adminOk(b.node, { action: 'jurisdiction.set', jurisdiction: XX });
    await fundReserve(b.node, offshore.input.unsettledLimit, 'reserve-xx');
    await adminOk(b.node, { action: 'venue.add', venue: offshore.input });
    c = await client(b, 'VXX', offshore.privateKeyPem);
    c.logon();
    expect(await refused(c)).toBe('venue venue-xx may not trade: JurisdictionNotFatf');
    // The good venue logs on once; a second session of it is refused.
    const first = await loggedOn(b);
    c = await client(b);
    c.logon();
    expect(await refused(c)).toBe('venue venue-sg is already logged on');
    expect(first.closed).toBe(false);
  });

  it('[OPS-1] a sequence gap is asked for again, filled, and what came early is then processed in order', async () => {
    const b = await setup();
    const c = await loggedOn(b);
    // Seq 2 is "lost": 3 arrives first (a TestRequest), the node asks for 2 onwards.
    c.send('1', '112=early', { seq: 3 });
    const rr = await c.waitFor((m) => m.msgType === '2');
    expect([rr.get(7), rr.get(16)]).toEqual(['2', '0']);
    expect(c.ofType('0').some((m) => m.get(112) === 'early')).toBe(false);
    // The peer gap-fills 2; the early TestRequest is then answered.
    c.send('4', '123=Y|36=3', { seq: 2, header: `43=Y\x01122=${fixTime(Date.now())}\x01` });
    await c.waitFor((m) => m.msgType === '0' && m.get(112) === 'early');
    // Below the expected number without PossDupFlag: the session ends, naming both numbers.
    c.send('1', '112=late', { seq: 2 });
    const logout = await c.waitFor((m) => m.msgType === '5');
    expect(logout.get(58)).toBe('MsgSeqNum too low, expecting 4 but received 2');
    await c.waitClosed();
  });

  it('[OPS-1] a ResendRequest is answered with the stored reports (PossDupFlag, OrigSendingTime) and admin messages gap-filled', async () => {
    const b = await setup();
    const c = await loggedOn(b);
    c.send('D', '11=r1|1=C1|55=BASE-QUOTE|54=1|38=2|40=2|44=900');
    const first = await c.waitFor((m) => m.msgType === '8' && m.get(11) === 'r1');
    const from = c.received.length;
    c.send('2', '7=1|16=0');
    const resent = await c.waitFor((m) => m.msgType === '8' && m.get(43) === 'Y', { from });
    const gap = await c.waitFor((m) => m.msgType === '4', { from });
    // The Logon answer (seq 1) is gap-filled up to the report.
    expect([gap.seq, gap.get(123), gap.get(36), gap.get(43)]).toEqual([1, 'Y', String(first.seq), 'Y']);
    expect(resent.seq).toBe(first.seq);
    expect(resent.get(122)).toBe(first.get(52));
    const body = (m: typeof first) => m.tags.map((t, i) => [t, m.values[i]]).filter(([t]) => ![43, 52, 122, 9, 10].includes(t as number));
    expect(body(resent)).toEqual(body(first));
  });

  it('[OPS-1] heartbeats: the node heartbeats a quiet session, tests a silent peer, and logs it out when it stays silent', async () => {
    const b = await setup();
    const c = await client(b);
    c.logon({ heartbeatS: 1 });
    await c.waitFor((m) => m.msgType === 'A');
    const heartbeat = await c.waitFor((m) => m.msgType === '0', { timeoutMs: 3_000 });
    expect(heartbeat.has(112)).toBe(false);
    // Silent past 1.2 × HeartBtInt: a TestRequest; answered, the session goes on.
    const test = await c.waitFor((m) => m.msgType === '1', { timeoutMs: 4_000 });
    c.send('0', `112=${test.get(112)}`);
    const from = c.received.length;
    // Silent past 2.4 × HeartBtInt after a TestRequest: logged out, naming why.
    const logout = await c.waitFor((m) => m.msgType === '5', { from, timeoutMs: 8_000 });
    expect(logout.get(58)).toBe('no heartbeat from the peer');
    await c.waitClosed();
    expect(c.received.slice(from).some((m) => m.msgType === '1')).toBe(true);
  });

  it('[OPS-1] SequenceReset in Reset mode moves the expected number forward, never back', async () => {
    const b = await setup();
    const c = await loggedOn(b);
    c.send('4', '36=20', { seq: 7 });
    c.nextOut = 20;
    c.send('1', '112=after-reset');
    await c.waitFor((m) => m.msgType === '0' && m.get(112) === 'after-reset');
    const from = c.received.length;
    c.send('4', '36=5', { seq: 21 });
    const r = await c.waitFor((m) => m.msgType === '3', { from });
    expect(fieldsOf(r)).toMatchObject({ 371: '36', 373: '5' });
  });

  it('[OPS-1] malformed messages get a Reject(3) naming the tag; garbled ones are dropped; the session carries on', async () => {
    const b = await setup();
    const c = await loggedOn(b);
    // A required tag missing (Side), a value out of range, a tag repeated, a bad tag number.
    c.send('D', '11=m1|1=C1|55=BASE-QUOTE|38=1|40=2|44=1000');
    let r = await c.waitFor((m) => m.msgType === '3');
    expect(fieldsOf(r)).toMatchObject({ 371: '54', 372: 'D', 373: '1' });
    let from = c.received.length;
    c.send('D', '11=m2|1=C1|55=BASE-QUOTE|54=7|38=1|40=2|44=1000');
    r = await c.waitFor((m) => m.msgType === '3', { from });
    expect(fieldsOf(r)).toMatchObject({ 371: '54', 373: '5' });
    from = c.received.length;
    c.send('D', '11=m3|1=C1|1=C2|55=BASE-QUOTE|54=1|38=1|40=2|44=1000');
    r = await c.waitFor((m) => m.msgType === '3', { from });
    expect(fieldsOf(r)).toMatchObject({ 371: '1', 373: '13' });
    from = c.received.length;
    c.send('D', '11=m4|x1=C1|55=BASE-QUOTE|54=1|38=1|40=2|44=1000');
    r = await c.waitFor((m) => m.msgType === '3', { from });
    expect(fieldsOf(r)).toMatchObject({ 373: '0' });
    from = c.received.length;
    c.send('D', '11=m5|1=C1|55=BASE-QUOTE|54=1|38=1.5|40=2|44=1000');
    r = await c.waitFor((m) => m.msgType === '3', { from });
    expect(fieldsOf(r)).toMatchObject({ 371: '38', 373: '6' });
    // An unsupported message type: BusinessMessageReject.
    from = c.received.length;
    c.send('AE', '571=1');
    r = await c.waitFor((m) => m.msgType === 'j', { from });
    expect(fieldsOf(r)).toMatchObject({ 372: 'AE', 380: '3' });
    // Garbled: a wrong checksum and a wrong body length are dropped without an answer.
    const good = Buffer.from(`8=FIX.4.4\x019=5\x0135=0\x01\x0110=000\x01`, 'latin1');
    c.raw(good);
    c.raw('8=FIX.4.4\x019=999\x0135=0\x0110=000\x01');
    // Each Reject used one inbound number: the session is still in sequence and answers (the
    // message after the too-long BodyLength shows it wrong: two garbled messages, each counted once).
    from = c.received.length;
    c.send('1', '112=alive');
    await c.waitFor((m) => m.msgType === '0' && m.get(112) === 'alive', { from });
    expect(b.fix.stats.garbled).toBe(2);
  });

  it('[OPS-1] fuzz: random corruptions of valid messages never stop the node or leak a fault; it trades on after', async () => {
    const b = await setup();
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 6; round++) {
      const c = await client(b);
      c.logon({ reset: true, seq: 1 });
      await c.waitFor((m) => m.msgType === 'A');
      for (let i = 0; i < 150; i++) {
        const bytes = Buffer.from(`8=FIX.4.4\x019=0\x0135=D\x0149=VSG\x0156=JUNCTION\x0134=${c.nextOut++}\x0152=${fixTime(Date.now())}\x0111=f${round}-${i}\x011=C1\x0155=BASE-QUOTE\x0154=1\x0138=1\x0140=2\x0144=900\x0110=000\x01`, 'latin1');
        const mutations = 1 + rand(4);
        for (let k = 0; k < mutations; k++) {
          const at = rand(bytes.length);
          const kind = rand(4);
          if (kind === 0) bytes[at] = rand(256);
          else if (kind === 1) bytes[at] = 0x01;
          else if (kind === 2) bytes[at] = 0x3d;
          else bytes[at] = 48 + rand(10);
        }
        c.raw(bytes);
      }
      await new Promise((res) => setTimeout(res, 50));
      c.close();
      await new Promise((res) => setTimeout(res, 50));
    }
    // The node is sound and trades on for a new session.
    b.node.checkInvariants();
    const c = await client(b);
    c.logon({ reset: true, seq: 1 });
    await c.waitFor((m) => m.msgType === 'A');
    c.send('D', '11=after|1=C1|55=BASE-QUOTE|54=1|38=1|40=2|44=900');
    const er = await c.waitFor((m) => m.msgType === '8' && m.get(11) === 'after');
    expect(er.get(150)).toBe('0');
  });
});

describe('FIX application input', () => {
  it('[OPS-1] [SL-10] property: every application message, however wrong its fields, is answered exactly once and the node stays sound', async () => {
    const b = await setup();
    const c = await loggedOn(b);
    const random = mulberry32(99);
    const rand = (n: number) => Math.floor(random() * n);
    const junk = ['', 'x', '-1', '0', '1e9', '99999999999999999999', '1.2.3', '.5', '5.', '\u00e9', '__proto__', 'constructor', 'NaN', 'y'.repeat(200), '1.00000000001'];
    /** Per message sent: its sequence number, and the id its answer carries (ClOrdID, CollAsgnID or MDReqID). */
    const sent: { seq: number; id: string; type: string }[] = [];
    const open: string[] = [];
    for (let i = 0; i < 600; i++) {
      const id = `z${i}`;
      const type = ['D', 'D', 'D', 'F', 'G', 'q', 'V', 'AY'][rand(8)];
      const orig = open.length > 0 && rand(4) > 0 ? open[rand(open.length)] : `nope${i}`;
      const table: Record<string, [number, string][]> = {
        D: [[11, id], [1, rand(2) ? 'C1' : 'C2'], [55, 'BASE-QUOTE'], [54, String(1 + rand(2))], [38, String(1 + rand(5))], [40, '2'], [44, String(950 + rand(100))], [59, ['1', '3', '4', '0'][rand(4)]]],
        F: [[11, id], [41, orig], [55, 'BASE-QUOTE'], [54, '1']],
        G: [[11, id], [41, orig], [55, 'BASE-QUOTE'], [54, '1'], [38, String(1 + rand(8))], [40, '2'], [44, String(950 + rand(100))]],
        q: [[11, id], [530, rand(2) ? '7' : '1'], [55, 'BASE-QUOTE']],
        V: [[262, id], [263, '0'], [264, '0'], [267, '1'], [269, '0'], [146, '1'], [55, 'BASE-QUOTE']],
        AY: [[902, id], [903, rand(2) ? '0' : '3'], [895, '0'], [1, 'C1'], [15, 'QUOTE'], [53, String(1 + rand(50))]],
      };
      const fields = table[type];
      // Most messages carry one fault: a field dropped or given a wrong value (never the id).
      const r = rand(10);
      if (r < 3 && fields.length > 1) fields.splice(1 + rand(fields.length - 1), 1);
      else if (r < 7 && fields.length > 1) fields[1 + rand(fields.length - 1)][1] = junk[rand(junk.length)];
      const seq = c.send(type, fields.map(([t, v]) => `${t}=${v}`).join('|'));
      sent.push({ seq, id, type });
      if (type === 'D') open.push(id);
    }
    c.send('1', '112=done');
    await c.waitFor((m) => m.msgType === '0' && m.get(112) === 'done', { timeoutMs: 20_000 });
    await b.node.drain();
    await new Promise((r) => setTimeout(r, 200));
    // Answers: a Reject(3) or BusinessMessageReject(j) names the sequence number; everything else
    // carries the request's id (an ExecutionReport, OrderCancelReject, mass-cancel report,
    // snapshot, market data request reject or collateral response).
    const bySeq = new Map<number, number>();
    const byId = new Map<string, string[]>();
    for (const m of c.received) {
      if (m.msgType === '3' || m.msgType === 'j') bySeq.set(Number(m.get(45)), (bySeq.get(Number(m.get(45))) ?? 0) + 1);
      for (const tag of [11, 902, 262]) {
        const v = m.get(tag);
        if (v !== undefined) byId.set(v, [...(byId.get(v) ?? []), m.msgType + (m.get(150) ?? '')]);
      }
    }
    const unanswered = sent.filter((s) => !bySeq.has(s.seq) && !byId.has(s.id));
    expect(unanswered, 'every message is answered').toEqual([]);
    for (const s of sent) {
      const answers = bySeq.get(s.seq) ?? 0;
      // A refused message is answered once; an accepted one by its own reports (an order may have several).
      if (answers > 0) {
        expect(answers, `message ${s.seq} rejected once`).toBe(1);
        expect(byId.get(s.id)?.filter((a) => a === '80' || a === '88' || a === '9' || a === 'AZ') ?? [], `message ${s.seq} not also answered`).toEqual([]);
      } else if (s.type !== 'D') {
        const own = byId.get(s.id)!.filter((a) => ['9', 'AZ', 'r', 'W', 'Y', '84', '85'].includes(a));
        expect(own.length, `message ${s.seq} (${s.type}) answered once: ${byId.get(s.id)}`).toBe(1);
      } else {
        expect(byId.get(s.id)!.filter((a) => a === '80' || a === '88').length, `order ${s.id} acknowledged once`).toBe(1);
      }
    }
    b.node.checkInvariants();
    expect(c.closed).toBe(false);
  });
});
