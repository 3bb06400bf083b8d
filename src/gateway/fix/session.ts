// The FIX 4.4 session layer, one per TCP connection: Logon first, then sequence numbers checked
// (a gap is asked for again with ResendRequest and what came early waits for it; too low without
// PossDupFlag ends the session), heartbeats and TestRequests, ResendRequest answered from the
// store (application messages re-sent with PossDupFlag=Y and OrigSendingTime, the rest
// gap-filled), SequenceReset, Reject(3) for malformed messages, Logout with a reason.
//
// Sequence numbers belong to the venue (its VenueLink), not to one connection: they survive
// reconnects and restarts. Every message this side sends gets its number when it is made and goes
// out only once that number (and the message, if it is an application message) is durable:
// messages a batch produced with the batch's commit, the session's own in a write of their own.
import type { Socket } from 'node:net';
import { FixBlob, FixFramer, FixMessage, FixWriter, SessionReject, fixText, fixTime, parseFixTime, type FieldFault } from './codec.js';
import type { FixStore, SequenceState } from './store.js';

/** Messages that arrived early (above the expected sequence) kept while a gap is resent, at most. */
export const EARLY_MESSAGES_MAX = 10_000;
/** Garbled messages a connection may send before it is dropped. */
export const GARBLED_MAX = 100;
/** SendingTime more than this from the node's clock is refused (Reject 10, then Logout). */
export const SENDING_TIME_SKEW_MS = 120_000;
/** Bytes queued on a socket past which the peer is dropped as a slow consumer. */
export const SOCKET_QUEUED_MAX = 64 * 1024 * 1024;

/** A message this side sent or will send, in sequence order; it goes out once durable. */
interface Outgoing { seq: number; bytes: Buffer; ready: boolean; thenClose?: string }

/**
 * Inbound sequence numbers of application messages in the node and not yet durable: added in
 * rising order, removed in about that order. A sorted array with a moving head and tombstones, so
 * adding and removing allocate nothing (a Set would rehash as it grows and shrinks).
 */
export class PendingSeqs {
  private seqs: number[] = [];
  private head = 0;

  add(seq: number): void {
    this.seqs.push(seq);
  }

  delete(seq: number): void {
    const seqs = this.seqs;
    // Binary search: the array is sorted (tombstones keep their place with the value negated).
    let lo = this.head;
    let hi = seqs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = Math.abs(seqs[mid]);
      if (v === seq) {
        seqs[mid] = -seq;
        break;
      }
      if (v < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    while (this.head < seqs.length && seqs[this.head] < 0) this.head++;
    if (this.head === seqs.length) {
      seqs.length = 0;
      this.head = 0;
    } else if (this.head > 4096) {
      this.seqs = seqs.slice(this.head);
      this.head = 0;
    }
  }

  /** The lowest pending number, or undefined. */
  min(): number | undefined {
    return this.head < this.seqs.length ? this.seqs[this.head] : undefined;
  }

  clear(): void {
    this.seqs.length = 0;
    this.head = 0;
  }
}

/** A venue's standing in the bridge: its sequence numbers, its session if one is logged on. */
export class VenueLink {
  session: FixSession | undefined;
  /** Inbound sequence numbers of application messages entered into the node and not yet durable. */
  readonly pendingIn = new PendingSeqs();
  /** The highest outbound sequence number that is durable (what a resend may cover). */
  durableOut: number;
  /** Counts sequence resets: numbers given before one mean nothing after it. */
  epoch = 0;
  /** The node's CompID as this venue addresses it, and the venue's. */
  writer: FixWriter;

  constructor(readonly venue: string, readonly seq: SequenceState, public ourCompId: string, public theirCompId: string) {
    this.durableOut = seq.nextOut - 1;
    this.writer = new FixWriter(ourCompId, theirCompId);
  }

  setCompIds(ours: string, theirs: string): void {
    if (ours === this.ourCompId && theirs === this.theirCompId) return;
    this.ourCompId = ours;
    this.theirCompId = theirs;
    this.writer = new FixWriter(ours, theirs);
  }

  /** The inbound sequence number to store: everything below it is processed durably. */
  persistedIn(): number {
    const pending = this.pendingIn.min();
    return pending === undefined ? this.seq.nextIn : Math.min(pending, this.seq.nextIn);
  }
}

export interface SessionStats { garbled: number; rejects: number; resent: number; gapFills: number }

/** What the gateway does for a session: logon, application messages, and its end. */
export interface SessionHost {
  readonly store: FixStore;
  readonly stats: SessionStats;
  /** Authenticates a Logon: the venue's link, or why it is refused (and whether the peer is the venue's). */
  logon(session: FixSession, m: FixMessage, nowMs: number): VenueLink | { refuse: string; link?: VenueLink };
  /** An application message, in sequence order. Its inbound sequence number is m.seq. */
  application(session: FixSession, m: FixMessage): void;
  ended(session: FixSession, link: VenueLink | undefined): void;
}

export class FixSession {
  link: VenueLink | undefined;
  private readonly framer = new FixFramer();
  /** closing: a Logout that ends the session is on its way; nothing more is read. */
  private state: 'logon' | 'active' | 'closing' | 'closed' = 'logon';
  private readonly outgoing: Outgoing[] = [];
  /** Messages that came above the expected sequence number, waiting for the gap to be resent. */
  private readonly early = new Map<number, FixMessage>();
  /** Set while a ResendRequest of ours is outstanding: the highest number it must bring. */
  private resendUntil = 0;
  /** Messages read before the logon completed (its write is durable), handled after it. */
  private held: FixMessage[] | undefined;
  heartbeatMs = 30_000;
  lastInMs = Date.now();
  lastOutMs = Date.now();
  private testRequestMs = 0;
  private testRequestId = '';
  private garbled = 0;
  /** Set when a Logout is sent: the session ends when the peer answers or soon after. */
  private logoutSentMs = 0;

  constructor(readonly socket: Socket, private readonly host: SessionHost, readonly remote: string) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.closed());
    socket.on('error', () => socket.destroy());
  }

  get active(): boolean { return this.state === 'active'; }

  private isClosed(): boolean { return this.state === 'closed'; }

  // ---- inbound ---------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.framer.push(chunk);
    for (;;) {
      const r = this.framer.next();
      if (r === undefined) break;
      if ('garbled' in r) {
        this.host.stats.garbled++;
        if (++this.garbled > GARBLED_MAX) return this.drop(`more than ${GARBLED_MAX} garbled messages`);
        continue;
      }
      this.lastInMs = Date.now();
      if (this.held) this.held.push(r);
      else this.receive(r);
      if (this.isClosed()) return;
    }
  }

  private receive(m: FixMessage): void {
    if (this.state === 'closing') return;
    if (this.state === 'logon') return this.logon(m);
    const link = this.link!;
    if (!m.has(34) || m.seq === 0) return this.logout('MsgSeqNum(34) missing or not a number', true);
    if (m.get(49) !== link.theirCompId || m.get(56) !== link.ourCompId) {
      this.reject(m, { reason: SessionReject.CompIdProblem, tag: m.get(49) !== link.theirCompId ? 49 : 56, text: 'CompID problem' });
      return this.logout(`CompIDs must be ${link.theirCompId} -> ${link.ourCompId}`, true);
    }
    // SequenceReset in Reset mode sets the expected number whatever its own.
    if (m.msgType === '4' && m.get(123) !== 'Y') return this.sequenceReset(m);
    const expected = link.seq.nextIn;
    if (m.seq > expected) {
      if (m.msgType === '5') return this.logout('logout acknowledged', true);
      if (m.msgType === '2') this.resend(m); // answered at once, whatever its number
      if (this.early.size >= EARLY_MESSAGES_MAX) return this.logout(`more than ${EARLY_MESSAGES_MAX} messages ahead of a sequence gap`, true);
      this.early.set(m.seq, m);
      if (this.resendUntil === 0) {
        this.resendUntil = m.seq;
        this.send('2', `7=${expected}\x0116=0\x01`);
      }
      return;
    }
    if (m.seq < expected) {
      if (m.get(43) === 'Y') return; // a duplicate of what was processed
      return this.logout(`MsgSeqNum too low, expecting ${expected} but received ${m.seq}`, true);
    }
    this.process(m);
    this.drainEarly();
  }

  /** What came early follows, in order, once the gap before it is closed. */
  private drainEarly(): void {
    while (this.state === 'active' && this.early.size > 0) {
      const next = this.early.get(this.link!.seq.nextIn);
      if (!next) {
        // Anything below the expected number was covered by a gap fill.
        for (const s of this.early.keys()) if (s < this.link!.seq.nextIn) this.early.delete(s);
        break;
      }
      this.early.delete(next.seq);
      if (next.msgType === '2') {
        this.link!.seq.nextIn++; // answered when it arrived
        continue;
      }
      this.process(next);
    }
    if (this.resendUntil !== 0 && this.link && this.link.seq.nextIn > this.resendUntil) this.resendUntil = 0;
  }

  /** A message at the expected sequence number. */
  private process(m: FixMessage): void {
    const link = this.link!;
    if (m.msgType === '4') {
      // GapFill: the numbers up to NewSeqNo(36) carried nothing to process.
      const next = Number(m.get(36));
      if (!Number.isSafeInteger(next) || next <= link.seq.nextIn) {
        link.seq.nextIn++;
        return this.reject(m, { reason: SessionReject.ValueIncorrect, tag: 36, text: `NewSeqNo(36) must be above ${link.seq.nextIn - 1}` });
      }
      link.seq.nextIn = next;
      return;
    }
    link.seq.nextIn++;
    if (m.fault) return this.reject(m, m.fault);
    const possDup = m.get(43) === 'Y';
    if (possDup && !m.has(122)) return this.reject(m, { reason: SessionReject.RequiredTagMissing, tag: 122, text: 'OrigSendingTime(122) is required with PossDupFlag=Y' });
    const sent = parseFixTime(m.get(52) ?? '');
    if (Number.isNaN(sent)) return this.reject(m, { reason: SessionReject.IncorrectDataFormat, tag: 52, text: 'SendingTime(52) is not a UTCTimestamp' });
    if (!possDup && Math.abs(sent - Date.now()) > SENDING_TIME_SKEW_MS) {
      this.reject(m, { reason: SessionReject.SendingTimeAccuracy, tag: 52, text: `SendingTime is more than ${SENDING_TIME_SKEW_MS / 1000} s from the node's clock` });
      return this.logout('SendingTime accuracy problem', true);
    }
    switch (m.msgType) {
      case '0':
        if (this.testRequestId !== '' && m.get(112) === this.testRequestId) this.testRequestId = '';
        return;
      case '1': {
        const id = m.get(112);
        if (id === undefined) return this.reject(m, { reason: SessionReject.RequiredTagMissing, tag: 112, text: 'TestReqID(112) is required' });
        return this.send('0', `112=${fixText(id)}\x01`);
      }
      case '2':
        return this.resend(m);
      case '3':
        return; // the peer refused one of ours: nothing to undo
      case '5':
        if (this.logoutSentMs === 0) this.send('5', '58=logout acknowledged\x01', 'peer logged out');
        else this.drop('logged out');
        return;
      case 'A':
        return this.reject(m, { reason: SessionReject.ValueIncorrect, tag: 35, text: 'the session is already logged on' });
      default:
        if (!/^[0-9A-Za-z]{1,2}$/.test(m.msgType)) return this.reject(m, { reason: SessionReject.InvalidMsgType, tag: 35, text: `invalid MsgType ${m.msgType}` });
        this.host.application(this, m);
    }
  }

  private logon(m: FixMessage): void {
    if (m.msgType !== 'A') return this.refuse('the first message must be a Logon(A)');
    if (m.fault) return this.refuse(`Logon: ${m.fault.text}`);
    const nowMs = Date.now();
    const r = this.host.logon(this, m, nowMs);
    if (!(r instanceof VenueLink)) return this.refuse(r.refuse, r.link);
    const heartbeat = Number(m.get(108));
    this.link = r;
    r.session = this;
    this.state = 'active';
    this.heartbeatMs = heartbeat * 1000;
    const reset = m.get(141) === 'Y';
    if (reset) {
      r.epoch++;
      r.seq.nextIn = 1;
      r.seq.nextOut = 1;
      r.durableOut = 0;
      r.pendingIn.clear();
      void this.host.store.writeNow(() => this.host.store.clearMessages(r.venue));
    }
    if (m.seq < r.seq.nextIn) {
      return this.logout(`MsgSeqNum too low, expecting ${r.seq.nextIn} but received ${m.seq}`, true);
    }
    // What the peer sends while the Logon answer is being made durable waits for it.
    this.held = [];
    this.send('A', `98=0\x01108=${heartbeat}\x01${reset ? '141=Y\x01' : ''}`, undefined, () => {
      const held = this.held ?? [];
      this.held = undefined;
      for (const h of held) {
        if (this.state !== 'active') return;
        this.receive(h);
      }
    });
    if (m.seq > r.seq.nextIn) {
      this.resendUntil = m.seq;
      this.send('2', `7=${r.seq.nextIn}\x0116=0\x01`);
    } else r.seq.nextIn = m.seq + 1;
  }

  // ---- outbound --------------------------------------------------------------------------------

  /**
   * Sends a message of the session's own (admin, or a gateway reject): numbered now, sent once its
   * number (and, with `keep`, the message for resends) is durable.
   */
  send(msgType: string, body: string, thenClose?: string, afterSent?: () => void, keep = false): void {
    const link = this.link!;
    const seq = link.seq.nextOut++;
    const blob = new FixBlob(128 + body.length);
    link.writer.writeInto(blob, msgType, seq, fixTime(Date.now()), body);
    const entry: Outgoing = { seq, bytes: blob.view(), ready: false, thenClose };
    this.outgoing.push(entry);
    const store = this.host.store;
    const state = { nextIn: link.persistedIn(), nextOut: link.seq.nextOut };
    store.writeNow(() => {
      store.putSequence(link.venue, state);
      if (keep) store.putMessages(link.venue, blob);
    }).then(() => {
      if (seq > link.durableOut) link.durableOut = seq;
      entry.ready = true;
      this.pump();
      afterSent?.();
    }, (e: Error) => {
      console.error('junction fix: a sequence number could not be stored:', e);
      this.drop('the session could not be recorded');
    });
  }

  /**
   * Messages a batch produced (numbered and stored with it), up to number `seq`: sent once
   * `markReady` says durable.
   */
  queue(seq: number, bytes: Buffer): void {
    if (this.state === 'closed') return;
    this.outgoing.push({ seq, bytes, ready: false });
  }

  /** The batch's messages up to `seq` are durable: send what is ready, in order. */
  markReady(upTo: number): void {
    for (const o of this.outgoing) if (o.seq <= upTo && !o.ready && o.thenClose === undefined) o.ready = true;
    this.pump();
  }

  private pump(): void {
    const out = this.outgoing;
    let n = 0;
    let corked = false;
    while (n < out.length && out[n].ready) {
      if (this.state === 'closed') return;
      if (!corked && out.length - n > 1) {
        this.socket.cork();
        corked = true;
      }
      const o = out[n++];
      this.socket.write(o.bytes);
      if (o.thenClose !== undefined) {
        out.splice(0, n);
        if (corked) this.socket.uncork();
        this.logoutSentMs = Date.now();
        this.lastOutMs = Date.now();
        // A Logout we answer ends the session; one we start waits briefly for the peer's answer.
        if (o.thenClose === 'peer logged out' || o.thenClose.startsWith('!')) return this.drop(o.thenClose);
        return;
      }
    }
    if (n > 0) {
      out.splice(0, n);
      this.lastOutMs = Date.now();
    }
    if (corked) this.socket.uncork();
    if (this.socket.writableLength > SOCKET_QUEUED_MAX) this.drop('slow consumer: too much unsent');
  }

  /** Answers a ResendRequest from the store: application messages again, the rest gap-filled. */
  private resend(m: FixMessage): void {
    const link = this.link!;
    const begin = Number(m.get(7));
    const endAsked = Number(m.get(16));
    if (!Number.isSafeInteger(begin) || begin < 1 || !Number.isSafeInteger(endAsked) || endAsked < 0) {
      return this.reject(m, { reason: SessionReject.ValueIncorrect, tag: Number.isSafeInteger(begin) && begin >= 1 ? 16 : 7, text: 'BeginSeqNo(7) and EndSeqNo(16) must be sequence numbers' });
    }
    // Only what is durable (and so was or will be sent) is resent; later numbers come in order.
    const end = Math.min(endAsked === 0 ? Number.MAX_SAFE_INTEGER : endAsked, link.durableOut);
    if (begin > end) return;
    const now = fixTime(Date.now());
    let next = begin;
    this.socket.cork();
    const gapFill = (to: number) => {
      this.host.stats.gapFills++;
      this.socket.write(link.writer.write('4', next, now, `123=Y\x0136=${to}\x01`, `43=Y\x01122=${now}\x01`));
    };
    for (const stored of this.host.store.stored(link.venue, begin, end)) {
      // A peer that asks for more than it reads is dropped, as a slow consumer is.
      if (this.socket.writableLength > SOCKET_QUEUED_MAX) {
        this.socket.uncork();
        return this.drop('slow consumer: a resend it does not read');
      }
      // Market data is not resent (stale by now): gap-filled like admin messages.
      if (stored.msgType === 'X' || stored.msgType === 'W') continue;
      if (stored.seq > next) gapFill(stored.seq);
      this.host.stats.resent++;
      this.socket.write(link.writer.write(stored.msgType, stored.seq, now, stored.body, `43=Y\x01122=${stored.sendingTime}\x01`));
      next = stored.seq + 1;
    }
    if (next <= end) gapFill(end + 1);
    this.socket.uncork();
    this.lastOutMs = Date.now();
  }

  private sequenceReset(m: FixMessage): void {
    const link = this.link!;
    const next = Number(m.get(36));
    if (!Number.isSafeInteger(next) || next < link.seq.nextIn) {
      return this.reject(m, { reason: SessionReject.ValueIncorrect, tag: 36, text: `NewSeqNo(36) may not go below ${link.seq.nextIn}` });
    }
    link.seq.nextIn = next;
    for (const s of this.early.keys()) if (s < next) this.early.delete(s);
    this.drainEarly();
  }

  reject(m: FixMessage, fault: FieldFault): void {
    this.host.stats.rejects++;
    const refTag = fault.tag > 0 ? `371=${fault.tag}\x01` : '';
    const refType = m.msgType !== '' ? `372=${fixText(m.msgType)}\x01` : '';
    this.send('3', `45=${m.seq}\x01${refTag}${refType}373=${fault.reason}\x0158=${fixText(fault.text)}\x01`);
  }

  /** BusinessMessageReject(j) of an application message (kept for resends: it answers one). */
  businessReject(m: FixMessage, reason: number, text: string, refId?: string): void {
    this.host.stats.rejects++;
    const ref = refId !== undefined ? `379=${fixText(refId)}\x01` : '';
    this.send('j', `45=${m.seq}\x01372=${fixText(m.msgType)}\x01${ref}380=${reason}\x0158=${fixText(text)}\x01`, undefined, undefined, true);
  }

  /** Sends a Logout naming why; with `close`, the connection ends once it is out. */
  logout(text: string, close = false): void {
    if (this.state === 'closed') return;
    if (!this.link || this.state !== 'active') return this.refuse(text);
    this.send('5', `58=${fixText(text)}\x01`, close ? `!${text}` : text);
    if (close) this.state = 'closing';
  }

  /** A Logon refused: a Logout naming why, then the connection ends. */
  private refuse(text: string, link?: VenueLink): void {
    if (link && !link.session) {
      // The venue's own peer (authenticated): the Logout takes the venue's next number.
      this.link = link;
      link.session = this;
      this.send('5', `58=${fixText(text)}\x01`, `!${text}`);
      this.state = 'closing';
      return;
    }
    // Not (yet) a venue's session: nothing of any venue's sequence is used.
    const writer = new FixWriter('JUNCTION', 'UNKNOWN');
    this.socket.write(writer.write('5', 1, fixTime(Date.now()), `58=${fixText(text)}\x01`));
    this.drop(text);
  }

  /** Heartbeats, TestRequests, and the end of a silent or logged-out session (called every second). */
  tick(nowMs: number): void {
    if (this.state !== 'active' || !this.link) {
      if (this.state === 'logon' && nowMs - this.lastInMs > 10_000) this.drop('no Logon within 10 s');
      return;
    }
    if (this.logoutSentMs !== 0) {
      if (nowMs - this.logoutSentMs > 2_000) this.drop('logout not answered');
      return;
    }
    if (nowMs - this.lastOutMs >= this.heartbeatMs) this.send('0', '');
    const silent = nowMs - this.lastInMs;
    if (this.testRequestId !== '' && silent > 2.4 * this.heartbeatMs) return this.logout('no heartbeat from the peer', true);
    if (this.testRequestId === '' && silent > 1.2 * this.heartbeatMs) {
      this.testRequestId = `T${nowMs}`;
      this.testRequestMs = nowMs;
      this.send('1', `112=${this.testRequestId}\x01`);
    }
  }

  /** Ends the connection at once. */
  drop(_why: string): void {
    if (this.state === 'closed') return;
    this.socket.end();
    this.socket.destroySoon?.();
    setTimeout(() => this.socket.destroy(), 500).unref();
    this.closed();
  }

  private closed(): void {
    if (this.state === 'closed') return;
    const link = this.link;
    this.state = 'closed';
    this.outgoing.length = 0;
    this.early.clear();
    if (link && link.session === this) link.session = undefined;
    this.host.ended(this, link);
  }
}
