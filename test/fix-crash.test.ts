// The FIX bridge across crashes (OPS-1, OPS-2): the node runs as `npm start` does, in a child
// process, and is killed with SIGKILL while two clients of a venue trade with each other over FIX.
// After each restart the venue logs on again and asks for everything from 1: every message it
// had received is resent identically (PossDupFlag=Y, OrigSendingTime = its first SendingTime), and
// no sequence number is ever used twice.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixTime, type FixMessage } from '../src/gateway/fix/codec.js';
import { FixTestClient } from './support/fix-client.js';
import { mulberry32 } from './support/command-stream.js';
import { startNodeProcess } from './support/node-process.js';

const KILLS = 4;

/** A message as the venue saw it, without what a resend changes (PossDupFlag, times, framing). */
function body(m: FixMessage): string {
  return m.tags.map((t, i) => `${t}=${m.values[i]}`).filter((f) => !/^(43|52|122|9|10)=/.test(f)).join('|');
}

describe('FIX bridge across crashes', () => {
  it(`[OPS-1] [OPS-2] ${KILLS} SIGKILLs while a venue trades: every message it received is resent identically, numbers never repeat`, async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-fixcrash-'));
    const random = mulberry32(11);
    /** Every application message the venue received first-hand, by sequence number. */
    const seen = new Map<number, { body: string; sendingTime: string }>();
    let highest = 0;
    let nextOut = 1;
    let clOrdId = 1;
    /** Runs after which the node asked for messages of ours it had not processed durably. */
    let gapsAsked = 0;
    for (let run = 0; run <= KILLS; run++) {
      const { child, fixPort, venues } = await startNodeProcess(data);
      const venue = venues.find((v) => v.venue === 'venue-sg')!;
      const c = await FixTestClient.connect(fixPort, venue.senderCompId, venue.privateKeyPem, venue.targetCompId);
      c.nextOut = nextOut;
      c.logon({ heartbeatS: 30 });
      const ack = await c.waitFor((m) => m.msgType === 'A');
      const afterAck = c.received.indexOf(ack) + 1; // what came with it too
      // A number is never used twice: the Logon answer comes after everything seen before.
      expect(ack.seq).toBeGreaterThan(highest);
      // What the node had not processed durably of ours is asked for again: we gap-fill it. Its
      // ResendRequest is numbered right after the Logon answer and follows it once durable.
      const asked = await c.waitFor((m) => m.msgType === '2', { from: afterAck, timeoutMs: 2_000 }).catch(() => undefined);
      if (asked) {
        gapsAsked++;
        const from = Number(asked.get(7));
        expect(from).toBeLessThanOrEqual(c.nextOut - 1);
        c.send('4', `123=Y|36=${c.nextOut}`, { seq: from, header: `43=Y\x01122=${fixTime(Date.now())}\x01` });
      }
      // Everything from 1, again.
      const mark = c.received.length;
      c.send('2', '7=1|16=0');
      const until = ack.seq - 1;
      if (until >= 1) {
        await c.waitFor((m) => m.get(43) === 'Y' && (m.seq === until || (m.msgType === '4' && Number(m.get(36)) > until)), { from: mark, timeoutMs: 10_000 });
      }
      const resent = new Map<number, FixMessage>();
      for (const m of c.received.slice(mark)) if (m.get(43) === 'Y' && m.msgType !== '4') resent.set(m.seq, m);
      for (const [seq, first] of seen) {
        const again = resent.get(seq);
        expect(again, `message ${seq} resent`).toBeDefined();
        expect(body(again!)).toBe(first.body);
        expect(again!.get(122)).toBe(first.sendingTime);
      }
      if (run === KILLS) {
        child.kill('SIGKILL');
        break;
      }
      // Trade: SG-C1 and SG-C2 cross each other at one price; kill at a random moment.
      const recordFrom = c.received.length;
      const orders = 100 + Math.floor(random() * 100);
      const killAt = 60 + Math.floor(random() * 40);
      for (let i = 0; i < orders; i++) {
        const buy = random() < 0.5;
        const qty = (1 + Math.floor(random() * 5)) / 100;
        c.send('D', `11=k${clOrdId++}|1=${buy ? 'SG-C1' : 'SG-C2'}|55=BTC-USD|54=${buy ? 1 : 2}|38=${qty}|40=2|44=95000|59=1`);
        if (random() < 0.2) await new Promise((r) => setTimeout(r, 1));
        // The node has taken part of the flow (however loaded the machine: no timing assumed)...
        if (i === killAt - 20) await c.waitFor((m) => m.msgType === '8' && m.get(43) !== 'Y', { from: recordFrom + 40, timeoutMs: 20_000 });
        // ...and is killed mid-stream: what follows is sent into a dying connection.
        if (i === killAt) child.kill('SIGKILL');
      }
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      await new Promise((r) => setTimeout(r, 50));
      nextOut = c.nextOut;
      for (const m of c.received.slice(recordFrom)) {
        if (m.get(43) === 'Y') continue;
        highest = Math.max(highest, m.seq);
        if (m.msgType === '8' || m.msgType === '9' || m.msgType === '3' || m.msgType === 'j') {
          if (m.msgType === '3') continue; // admin: gap-filled on resend
          seen.set(m.seq, { body: body(m), sendingTime: m.get(52)! });
        }
      }
      for (const m of c.received) highest = Math.max(highest, m.get(43) === 'Y' ? 0 : m.seq);
      c.close();
    }
    expect(seen.size).toBeGreaterThan(100);
    // The kills landed mid-stream: some of what was sent never became durable and was asked for.
    expect(gapsAsked).toBeGreaterThan(0);
  });
});
