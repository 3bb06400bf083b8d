// Everything the gateway sends. Messages bound for one connection in one event-loop turn go out as
// one websocket frame (at most OUT_FRAME_BYTES, unless one message is larger), a topic's messages of
// a turn as one publish; nothing is allocated per message: a message is encoded into a scratch
// buffer and copied into the connection's or topic's frame. Every message is put to the
// data-access policy (policy.ts) before it is queued: one the connection may not see is dropped. A
// connection that falls behind is closed as a slow consumer.
import type uWS from 'uWebSockets.js';
import * as sbe from '../../protocol/codec.js';
import type { Connection, GatewayStats, Session, Topic, Ws } from './connection.js';
import { REASON_CODES } from '../../ops/metrics.js';
import { SCRATCH_BYTES, TEXT_CHARS_MAX } from './limits.js';
import { OUT_FRAME_BYTES, PackedFrame } from './packed-frame.js';
import { PUBLIC, type Policy, type Release } from './policy.js';

export function newTopic(name: string): Topic {
  return { name, subscribers: 0, out: new PackedFrame() };
}

export class Outbox {
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  /** Connections and topics with messages queued this turn. */
  private dirty: Ws[] = [];
  private dirtyTopics: Topic[] = [];
  private flushScheduled = false;
  /** Connections subscribed to any topic: checked for backpressure after each publish. */
  readonly subscribers = new Set<Ws>();
  /** Runs at the start of each flush (the book feed publishes its updates) and at its end. */
  beforeFlush: () => void = () => {};
  afterFlush: () => void = () => {};

  constructor(
    private readonly app: () => uWS.TemplatedApp,
    private readonly slowConsumerBytes: number,
    private readonly stats: GatewayStats,
    private readonly policy: Policy,
  ) {}

  /** Queues `length` bytes of `bytes` for a connection; they go out at the end of the turn (the policy has passed them). */
  private send(ws: Ws, bytes: Uint8Array, length: number, from = 0): void {
    const conn = ws.getUserData();
    if (!conn.open) return;
    const out = (conn.out ??= new PackedFrame());
    if (!out.fits(length)) {
      this.sendQueued(ws, conn);
      if (length > OUT_FRAME_BYTES) {
        ws.send(bytes.subarray(from, from + length), true);
        return this.checkBackpressure(ws);
      }
    }
    if (out.length === 0) this.dirty.push(ws);
    out.append(bytes, from, length);
    this.scheduleFlush();
  }

  /**
   * Encodes a message into the scratch buffer and queues it for a connection, if the policy lets
   * the connection (its session, if logged on) see it; `release` says whose it is (needed for
   * private and operator data).
   */
  sendMessage(ws: Ws, encode: (v: DataView) => number, release?: Release): void {
    const length = encode(this.scratchView);
    if (!this.policy.allows(ws.getUserData().session, this.scratchView.getUint16(2, true), release)) return;
    this.send(ws, this.scratch, length);
  }

  /** A message to a session (its heartbeat clock notes something went out). */
  sendTo(session: Session, encode: (v: DataView) => number, release?: Release): void {
    session.lastOutMs = Date.now();
    this.sendMessage(session.ws, encode, release);
  }

  /**
   * Messages already encoded, back to back (a key's report stream), to a session: each is put to
   * the policy as `release`; if any may not go, none does.
   */
  sendEncodedTo(session: Session, bytes: Uint8Array, length: number, release: Release): void {
    const v = new DataView(bytes.buffer, bytes.byteOffset, length);
    for (let at = 0; at < length;) {
      if (!this.policy.allows(session, v.getUint16(at + 2, true), release)) return;
      at = sbe.messageEnd(v, at, length);
    }
    session.lastOutMs = Date.now();
    this.send(session.ws, bytes, length);
  }

  /** A SessionReject naming the field at fault and, for an order, cancel or amend, its client order id. */
  reject(ws: Ws, refTemplateId: number, reason: sbe.RejectReason, field: string, text: string, refClOrdId = 0): void {
    this.stats.sessionRejects++;
    (this.stats.sessionRejectsByReason ??= new Float64Array(REASON_CODES))[reason]++;
    // The text is for people and may be cut to what the wire carries; the reason code is the contract.
    const clipped = text.length > TEXT_CHARS_MAX ? `${text.slice(0, TEXT_CHARS_MAX - 1)}~` : text;
    this.sendMessage(ws, (v) => sbe.encodeSessionReject(v, 0, { refTemplateId, reason, field, text: clipped, refClOrdId }));
  }

  /** Sends what is queued for a connection now, as one frame. */
  sendQueued(ws: Ws, conn: Connection): void {
    if (!conn.out || conn.out.length === 0) return;
    const frame = conn.out.take();
    ws.cork(() => ws.send(frame, true));
  }

  /** Queues a message for a topic's subscribers, if it has any (anyone may subscribe: only public data). */
  publish(topic: Topic, encode: (v: DataView) => number): void {
    if (topic.subscribers === 0) return;
    const length = encode(this.scratchView);
    if (!this.policy.allows(undefined, this.scratchView.getUint16(2, true), PUBLIC)) return;
    if (!topic.out.fits(length)) {
      this.publishQueued(topic);
      if (length > OUT_FRAME_BYTES) return void this.app().publish(topic.name, this.scratch.subarray(0, length), true);
    }
    if (topic.out.length === 0) this.dirtyTopics.push(topic);
    topic.out.append(this.scratch, 0, length);
    this.scheduleFlush();
  }

  private publishQueued(topic: Topic): void {
    if (topic.out.length > 0) this.app().publish(topic.name, topic.out.take(), true);
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** The end of a turn: the book updates, then every topic's and connection's queued messages. */
  private flush(): void {
    this.flushScheduled = false;
    this.beforeFlush();
    const topics = this.dirtyTopics;
    this.dirtyTopics = [];
    for (const t of topics) this.publishQueued(t);
    if (topics.length > 0) for (const ws of this.subscribers) this.checkBackpressure(ws);
    const dirty = this.dirty;
    this.dirty = [];
    for (const ws of dirty) {
      const conn = ws.getUserData();
      if (!conn.open) continue;
      this.sendQueued(ws, conn);
      this.checkBackpressure(ws);
    }
    this.afterFlush();
  }

  /** Closes a connection after whatever is queued for it has been sent. */
  end(ws: Ws, code: number, reason: string): void {
    const conn = ws.getUserData();
    if (!conn.open) return; // closed, or being closed (a slow consumer)
    this.sendQueued(ws, conn);
    ws.end(code, reason);
  }

  checkBackpressure(ws: Ws): void {
    const conn = ws.getUserData();
    if (conn.open && ws.getBufferedAmount() > this.slowConsumerBytes) {
      this.stats.slowConsumers++;
      conn.open = false;
      ws.end(1008, `slow consumer: over ${this.slowConsumerBytes} bytes unsent`);
    }
  }
}
