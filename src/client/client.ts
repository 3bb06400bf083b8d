// The TypeScript client of the market-maker protocol: connect and log on, enter orders, cancel,
// amend, subscribe to books, trades and perpetuals' reference prices, replay reports; an account's
// own perpetual figures as they change; a price source's signed index prices. It reconnects after a
// drop, logs on again, replays any reports it missed, and re-subscribes; a book subscription keeps
// a local book and re-snapshots when it sees a gap in bookSeq.
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { signLogon, signPrice } from '../gateway/ws/auth.js';
import * as sbe from '../protocol/codec.js';
import { describeReason } from '../protocol/reasons.js';
import type { PublishedReport } from '../gateway/ws/perp-events.js';
import { findInstrument, priceUnits, qtyUnits, type Instrument } from './units.js';

export interface ClientOptions {
  url: string;
  keyId: number;
  privateKeyPem: string;
  heartbeatMs?: number;
  cancelOnDisconnect?: boolean;
  /** Reconnect after an unexpected drop (default true). */
  reconnect?: boolean;
  /**
   * For wss://: the certificate authority (PEM) to trust beside the system's, e.g. a node's
   * self-signed certificate.
   */
  ca?: string | Buffer;
}

/**
 * An order. The instrument is its id or symbol ("BTC-USD"). A price or quantity given as a string
 * is a decimal in the instrument's own units ("95000.5" USD, "0.01" BTC), converted exactly and
 * checked against the tick, lot and size limits before anything is sent (a UnitError says what is
 * wrong); given as a number it is already in wire units (see InstrumentList).
 */
export interface OrderRequest {
  instrument: number | string;
  side: sbe.Side;
  price: number | string;
  qty: number | string;
  ordType?: sbe.OrdType;
  timeInForce?: sbe.TimeInForce;
  stpMode?: sbe.StpMode;
  clOrdId?: number;
  /** A perpetual's order that may only shrink the position (trimmed to it; cancelled when it no longer can). */
  reduceOnly?: boolean;
}

/**
 * A price source's index price (a key with the price-source permission). price: settlement-asset
 * units per whole unit of the underlying (USD scale 6: 95000.5 USD is 95_000_500_000). sourceTsUs:
 * the source's own time of the price, µs since the epoch (default now, and always after the last
 * one this client sent: the node takes only newer prices from a source).
 */
export interface PriceRequest { underlying: string; price: number; sourceTsUs?: number }

/** An account's perpetual figures and every position it holds, as of one durable batch. */
export interface PerpAccountFigures { account: sbe.PerpAccountUpdate; positions: sbe.PerpPositionUpdate[] }

/**
 * The answer to an admin() request. ok: body is the listing or, for an action, {seq} (an AFMM change
 * proposed: also {change, text}). Refused: reason is the node's code and body {reasonName, text}.
 */
export interface AdminAnswer { ok: boolean; reason: number; body: any }

/**
 * A post-event report (PERP-9) as the node publishes it: triggers, each product's mark, index and
 * sources, the liquidated positions without identities, the timeline, the insurance fund before and
 * after (a huge one's lists cut to their first entries, `cut` saying how many there were).
 */
export type PerpReportBody = PublishedReport;

export interface BookLevel { price: number; qty: number; count: number }
export interface LocalBook { instrument: number; bookSeq: number; bids: BookLevel[]; asks: BookLevel[] }

const RECONNECT_DELAY_MS = 200;

type StreamMessage = sbe.ExecutionReport | sbe.CancelReject | sbe.MassCancelReport;

/** Every message type the node sends, as an event of that name with the decoded message. */
type MessageEvents = { [K in sbe.Decoded['type']]: [Extract<sbe.Decoded, { type: K }>['message']] };

/** What a JunctionClient emits, with each event's arguments. */
export interface JunctionClientEvents extends MessageEvents {
  /** An execution report of the key's stream, in outSeq order, once. */
  report: [sbe.ExecutionReport];
  /** A refused cancel or amend, in the key's stream. */
  cancelReject: [sbe.CancelReject];
  /** The answer to a mass cancel, in the key's stream after the Cancelled reports it caused. */
  massCancelReport: [sbe.MassCancelReport];
  /** The local book of a subscribed instrument after each snapshot or update. */
  book: [LocalBook];
  trade: [sbe.Trade];
  /**
   * The account's perpetual figures (at logon, then after each durable batch that changed them),
   * with every position it holds and, at size 0, those it closed since: emitted once all are in.
   */
  perpAccount: [sbe.PerpAccountUpdate, sbe.PerpPositionUpdate[]];
  /** One position of the account (each also comes with its perpAccount). */
  perpPosition: [sbe.PerpPositionUpdate];
  /** A subscribed perpetual's mark, index, sources and funding (on subscription, then on each change). */
  perpMarket: [sbe.PerpMarket];
  /**
   * The insurance fund was depleted or restored (PERP-8): to a Perp subscriber, and to an account
   * holding a position (both, when both: the same notice, its seq the same).
   */
  perpNotice: [sbe.PerpNotice];
  /** A post-event report (PERP-9), with its body read, as perpNotice reaches its listeners. */
  perpReport: [sbe.PerpReport, PerpReportBody];
  /** A gap in a book's bookSeq (the client re-snapshots): instrument, last bookSeq, bookSeq seen. */
  gap: [number, number, number];
  sessionReject: [sbe.SessionReject];
  replayComplete: [sbe.ReplayComplete];
  disconnect: [number, string];
  error: [Error];
}
/** Answers a request if the message is its answer (then says so: a message answers one request). */
type Waiter = (m: StreamMessage) => boolean;

/** A request made while the client is not connected fails at once (nothing is queued for later). */
function notConnected<T>(): Promise<T> {
  return Promise.reject(new Error('not connected: the request was not sent'));
}

/** The gateway refused a request (a SessionReject naming its client order id). */
export class SessionRejectError extends Error {
  constructor(readonly reject: sbe.SessionReject) {
    super(`refused: ${describeReason(reject.reason)} [${reject.field}: ${reject.text}]`);
  }
}
/** Messages one ReplayRequest returns at most (the gateway's REPLAY_MESSAGES_MAX). */
export const REPLAY_PAGE = 512;
/** After a ReplayRequest is refused by the rate limit, ask again this much later. */
const REPLAY_RETRY_MS = 50;

/** A connection error a person understands: no node at the URL, or not the protocol's path. */
function connectError(url: string, e: Error & { code?: string }): Error {
  if (e.code === 'ECONNREFUSED') return new Error(`no node answers at ${url} (connection refused): is it running, and on this port?`);
  const status = /Unexpected server response: (\d+)/.exec(e.message);
  if (status) return new Error(`${url} answered HTTP ${status[1]}, not the Junction protocol, which is served at the path /ws (e.g. ws://127.0.0.1:8800/ws)`);
  return e;
}

export class JunctionClient extends EventEmitter<JunctionClientEvents> {
  private ws!: WebSocket;
  private readonly buffer = new DataView(new ArrayBuffer(1 << 16));
  private nextClOrdId = Date.now() * 1000;
  /** The key's stream is delivered in order and without gaps: up to here so far. */
  private lastOutSeq = 0;
  /** The highest outbound sequence known to exist (from the LogonAck or a message). */
  private headOutSeq = 0;
  /** Messages that arrived ahead of a gap, until the gap is filled by a replay. */
  private readonly ahead = new Map<number, StreamMessage>();
  private readonly openOrderRequests = new Map<number, { orders: sbe.OpenOrdersOrdersEntry[]; resolve: (orders: sbe.OpenOrdersOrdersEntry[]) => void }>();
  private readonly balanceRequests = new Map<number, (balances: sbe.BalancesBalancesEntry[]) => void>();
  private readonly adminRequests = new Map<number, (answer: AdminAnswer) => void>();
  private readonly priceRequests = new Map<number, (ack: sbe.PriceUpdateAck) => void>();
  /** The last sourceTsUs this client sent (each must be later). */
  private lastSourceTsUs = 0;
  /** A PerpAccountUpdate whose positions are still arriving. */
  private perpAssembling: PerpAccountFigures | undefined;
  /** Subscriptions waiting for their first answer (snapshot or SubscribeAck), in the order sent. */
  private readonly subscribing: { instrument: number; done: (e?: Error) => void }[] = [];
  /** Where the last ReplayRequest started (its page runs REPLAY_PAGE messages on). */
  private replayFrom = 0;
  private loggedOnBefore = false;
  /** Logged on over the current connection. */
  private loggedOn = false;
  private closing = false;
  /** Requests waiting for a stream message, by the client order id it will carry. */
  private readonly waiting = new Map<number, Waiter[]>();
  /** Requests waiting for an answer: failed all at once if the connection drops. */
  private readonly inFlight = new Set<(e: Error) => void>();
  /** Requests awaiting their outcome, by client order id, failed by a SessionReject naming them. */
  private readonly refusals = new Map<number, (r: sbe.SessionReject) => void>();
  private readonly books = new Map<number, { levels: [Map<number, BookLevel>, Map<number, BookLevel>]; bookSeq: number; live: boolean }>();
  private readonly tradeSubscriptions = new Set<number>();
  /** Perp subscriptions (0: every perpetual). */
  private readonly perpSubscriptions = new Set<number>();
  logonAck: sbe.LogonAck | undefined;
  /**
   * The account's perpetual figures as last received (a logged-on trade or read key on a node with
   * perpetuals). Those sent at logon come with the LogonAck when the node is idle (else with its
   * next durable batch): then they are here once connect() resolves, before a 'perpAccount'
   * listener added then hears of any.
   */
  perpAccount: PerpAccountFigures | undefined;
  /** Each subscribed perpetual's PerpMarket as last received. */
  readonly perpMarkets = new Map<number, sbe.PerpMarket>();
  instruments: sbe.InstrumentListInstrumentsEntry[] = [];

  private constructor(private readonly options: ClientOptions) {
    super();
  }

  /** Connects without logging on, for public market data only. */
  static async subscribeOnly(url: string, ca?: string | Buffer): Promise<JunctionClient> {
    const client = new JunctionClient({ url, keyId: 0, privateKeyPem: '', reconnect: false, ca });
    await new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, ca ? { ca } : {});
      client.ws = ws;
      // The instrument list first, so symbols and units can be used at once.
      ws.once('open', () => client.send((v) => sbe.encodeSubscribe(v, 0, { instrument: 0, channel: sbe.Channel.Book, schemaVersion: sbe.SCHEMA_VERSION })));
      ws.once('error', (e) => reject(connectError(url, e)));
      client.once('InstrumentList', () => resolve());
      ws.on('message', (data: Buffer) => {
        for (const decoded of sbe.decodeMessages(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))) client.onMessage(decoded);
      });
    });
    return client;
  }

  /** Connects and logs on; resolves with the client once the LogonAck arrives. */
  static async connect(options: ClientOptions): Promise<JunctionClient> {
    const client = new JunctionClient(options);
    await client.open();
    return client;
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.options.url, this.options.ca ? { ca: this.options.ca } : {});
      this.ws = ws;
      ws.binaryType = 'nodebuffer';
      ws.once('open', () => this.logon());
      ws.once('error', (e) => reject(connectError(this.options.url, e)));
      ws.on('message', (data: Buffer) => {
        for (const decoded of sbe.decodeMessages(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))) {
          if (decoded.type === 'LogonAck') {
            this.logonAck = decoded.message;
            this.headOutSeq = Math.max(this.headOutSeq, decoded.message.nextOutSeq - 1);
            // A new client starts from now (replay() fetches history); a reconnecting one fills
            // whatever it missed.
            if (!this.loggedOnBefore) this.lastOutSeq = this.headOutSeq;
            this.loggedOnBefore = true;
            this.loggedOn = true;
            this.replayFrom = 0;
            this.fillGap();
            for (const instrument of this.books.keys()) this.requestBook(instrument);
            for (const instrument of this.tradeSubscriptions) this.send((v) => sbe.encodeSubscribe(v, 0, { instrument, channel: sbe.Channel.Trades, schemaVersion: sbe.SCHEMA_VERSION }));
            for (const instrument of this.perpSubscriptions) this.send((v) => sbe.encodeSubscribe(v, 0, { instrument, channel: sbe.Channel.Perp, schemaVersion: sbe.SCHEMA_VERSION }));
            resolve();
          }
          this.onMessage(decoded);
        }
      });
      ws.once('close', (code, reason) => {
        this.loggedOn = false;
        // Whether the node took them is unknown: say so now rather than leave them waiting. Their
        // reports, if any, arrive as events once the client has caught up after reconnecting.
        const lost = new Error(`connection lost (${code}) before an answer: the request may or may not have been taken`);
        for (const fail of [...this.inFlight]) fail(lost);
        if (!this.logonAck) reject(new Error(`logon failed: ${code} ${reason.toString()}`));
        this.emit('disconnect', code, reason.toString());
        // Replaced by a newer logon of the same key (another process took it over): stay off.
        const replaced = reason.toString().startsWith('replaced by a newer logon');
        if (!this.closing && !replaced && this.options.reconnect !== false && this.logonAck) {
          setTimeout(() => void this.open().catch((e) => this.emit('error', e)), RECONNECT_DELAY_MS);
        }
      });
    });
  }

  private logon(): void {
    const timestampNs = BigInt(Date.now()) * 1_000_000n;
    const nonce = Math.floor(Math.random() * 2 ** 52);
    this.send((v) => sbe.encodeLogon(v, 0, {
      keyId: this.options.keyId, timestampNs, nonce, heartbeatMs: this.options.heartbeatMs ?? 0,
      cancelOnDisconnect: this.options.cancelOnDisconnect ? 1 : 0,
      signature: signLogon(this.options.privateKeyPem, this.options.keyId, timestampNs, nonce),
      // It decodes every message of this schema: the node may send it all of them.
      schemaVersion: sbe.SCHEMA_VERSION,
    }));
  }

  /** The API key this client logs on with. */
  get keyId(): number {
    return this.options.keyId;
  }

  /** Logged on, over an open connection: requests can be sent. */
  get connected(): boolean {
    return this.loggedOn && this.ws?.readyState === WebSocket.OPEN;
  }

  /** Sends a message; false when there is no open connection (it is not queued). */
  private send(encode: (v: DataView) => number): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(new Uint8Array(this.buffer.buffer, 0, encode(this.buffer)));
    return true;
  }

  private onMessage(d: sbe.Decoded): void {
    switch (d.type) {
      case 'ExecutionReport':
      case 'CancelReject':
        return this.onStream(d.message);
      case 'InstrumentList':
        this.instruments = d.message.instruments;
        this.emit('InstrumentList', d.message);
        return;
      case 'MassCancelReport':
        return this.onStream(d.message);
      case 'SubscribeAck':
        this.subscribed(undefined);
        return;
      case 'ReplayComplete':
        this.emit('replayComplete', d.message);
        return;
      case 'OpenOrders': {
        const pending = this.openOrderRequests.get(d.message.reqId);
        if (!pending) return;
        pending.orders.push(...d.message.orders);
        if (d.message.part + 1 === d.message.parts) {
          this.openOrderRequests.delete(d.message.reqId);
          pending.resolve(pending.orders);
        }
        return;
      }
      case 'Balances':
        this.balanceRequests.get(d.message.reqId)?.(d.message.balances);
        this.balanceRequests.delete(d.message.reqId);
        return;
      case 'AdminResponse':
        this.adminRequests.get(d.message.reqId)?.({ ok: d.message.ok === sbe.BooleanType.True, reason: d.message.reason, body: JSON.parse(d.message.body) });
        this.adminRequests.delete(d.message.reqId);
        return;
      case 'BookSnapshot':
        return this.onSnapshot(d.message);
      case 'BookUpdate':
        return this.onUpdate(d.message);
      case 'Trade':
        this.emit('trade', d.message);
        return;
      case 'PerpMarket':
        this.perpMarkets.set(d.message.instrument, d.message);
        this.emit('perpMarket', d.message);
        return;
      case 'PerpNotice':
        this.emit('perpNotice', d.message);
        return;
      case 'PerpReport':
        this.emit('perpReport', d.message, JSON.parse(d.message.body) as PerpReportBody);
        return;
      case 'PerpAccountUpdate':
        this.perpAssembling = { account: d.message, positions: [] };
        if (d.message.positions === 0) this.perpAccountComplete();
        return;
      case 'PerpPositionUpdate': {
        this.emit('perpPosition', d.message);
        const figures = this.perpAssembling;
        if (!figures || figures.account.account !== d.message.account) return;
        figures.positions.push(d.message);
        if (figures.positions.length === figures.account.positions) this.perpAccountComplete();
        return;
      }
      case 'PriceUpdateAck':
        this.priceRequests.get(d.message.reqId)?.(d.message);
        this.priceRequests.delete(d.message.reqId);
        return;
      case 'SessionReject':
        if (d.message.refClOrdId !== 0) this.refusals.get(d.message.refClOrdId)?.(d.message);
        if (d.message.refTemplateId === sbe.TemplateId.ReplayRequest) this.replayRefused(d.message);
        if (d.message.refTemplateId === sbe.TemplateId.Subscribe) this.subscribed(new SessionRejectError(d.message));
        this.emit('sessionReject', d.message);
        return;
      case 'TestRequest':
        this.send((v) => sbe.encodeHeartbeat(v, 0, { testReqId: d.message.testReqId }));
        return;
      case 'Heartbeat':
        // Answer the server's heartbeat so an idle client is not timed out.
        this.send((v) => sbe.encodeHeartbeat(v, 0, { testReqId: 0 }));
        return;
      default:
        (this.emit as (type: string, message: unknown) => boolean)(d.type, d.message);
    }
  }

  /**
   * Places an order; resolves with its first report (New or Rejected), or fails with a
   * SessionRejectError if the gateway refuses it (duplicate id, rate limit, busy, read-only key).
   */
  place(o: OrderRequest): Promise<sbe.ExecutionReport> {
    if (!this.connected) return notConnected();
    return this.checked(() => {
      const { instrument, price, qty } = this.units(o.instrument, o.price, o.qty, false);
      const clOrdId = o.clOrdId ?? this.nextClOrdId++;
      const result = this.awaitReport<sbe.ExecutionReport>(clOrdId, [[clOrdId, (m) => 'execType' in m]]);
      this.send((v) => sbe.encodeNewOrder(v, 0, {
        clOrdId, instrument, side: o.side, ordType: o.ordType ?? sbe.OrdType.Limit,
        timeInForce: o.timeInForce ?? sbe.TimeInForce.GTC, stpMode: o.stpMode ?? sbe.StpMode.None, price, qty,
        reduceOnly: o.reduceOnly ? sbe.BooleanType.True : sbe.BooleanType.False,
      }));
      return result;
    });
  }

  /** The instrument named by id or symbol, as the node lists it (the InstrumentList). */
  instrument(name: number | string): Instrument {
    return findInstrument(this.instruments, name);
  }

  /** An instrument's id: a number as it is, a symbol looked up (a UnitError names the ones there are). */
  private instrumentId(name: number | string): number {
    return typeof name === 'number' ? name : this.instrument(name).instrument;
  }

  /** Runs a request whose arguments may be refused before anything is sent: a refusal rejects it. */
  private checked<T>(request: () => Promise<T>): Promise<T> {
    try {
      return request();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** An order's instrument, price and quantity in wire units (decimal strings converted and checked). */
  private units(name: number | string, price: number | string, qty: number | string, amend: boolean): { instrument: number; price: number; qty: number } {
    if (typeof name === 'number' && typeof price === 'number' && typeof qty === 'number') return { instrument: name, price, qty };
    const i = this.instrument(name);
    return {
      instrument: i.instrument,
      price: typeof price === 'string' ? priceUnits(i, price) : price,
      qty: typeof qty === 'string' ? qtyUnits(i, qty, amend) : qty,
    };
  }

  /** Cancels by the original client order id; resolves with the Cancelled report or a CancelReject. */
  cancel(instrumentName: number | string, origClOrdId: number): Promise<sbe.ExecutionReport | sbe.CancelReject> {
    if (!this.connected) return notConnected();
    return this.checked(() => {
      const instrument = this.instrumentId(instrumentName);
      const clOrdId = this.nextClOrdId++;
      const result = this.awaitReport<sbe.ExecutionReport | sbe.CancelReject>(clOrdId, [
        [origClOrdId, (m) => 'execType' in m && m.execType === sbe.ExecType.Cancelled && m.requestClOrdId === clOrdId], [clOrdId, (m) => !('execType' in m)],
      ]);
      this.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId, origClOrdId, instrument, orderId: 0 }));
      return result;
    });
  }

  /**
   * Cancels one of this key's orders by its order id (as openOrders() lists it); resolves with the
   * Cancelled report or a CancelReject (UnknownOrder when it is not an open order of this key).
   */
  cancelByOrderId(instrument: number, orderId: number): Promise<sbe.ExecutionReport | sbe.CancelReject> {
    if (!this.connected) return notConnected();
    const clOrdId = this.nextClOrdId++;
    const result = this.awaitReport<sbe.ExecutionReport | sbe.CancelReject>(clOrdId, [
      [0, (m) => 'execType' in m && m.execType === sbe.ExecType.Cancelled && m.requestClOrdId === clOrdId && m.orderId === orderId],
      [clOrdId, (m) => 'origClOrdId' in m],
    ]);
    this.send((v) => sbe.encodeCancelOrder(v, 0, { clOrdId, origClOrdId: 0, instrument, orderId }));
    return result;
  }

  /** Amends price and open quantity (decimal strings or wire units, as in place()). */
  amend(instrumentName: number | string, origClOrdId: number, priceIn: number | string, qtyIn: number | string): Promise<sbe.ExecutionReport | sbe.CancelReject> {
    if (!this.connected) return notConnected();
    return this.checked(() => {
      const { instrument, price, qty } = this.units(instrumentName, priceIn, qtyIn, true);
      const clOrdId = this.nextClOrdId++;
      const result = this.awaitReport<sbe.ExecutionReport | sbe.CancelReject>(clOrdId, [
        [origClOrdId, (m) => 'execType' in m && m.execType === sbe.ExecType.Amended && m.requestClOrdId === clOrdId], [clOrdId, (m) => !('execType' in m)],
      ]);
      this.send((v) => sbe.encodeAmendOrder(v, 0, { clOrdId, origClOrdId, instrument, price, qty }));
      return result;
    });
  }

  /**
   * The first stream message that one of `awaited` ([client order id, does this message answer
   * it]) accepts settles the request; a SessionReject naming `requestId` fails it. Either way
   * nothing is left waiting.
   */
  private awaitReport<T extends StreamMessage>(requestId: number, awaited: [number, (m: StreamMessage) => boolean][]): Promise<T> {
    // An answer is numbered after everything already seen when the request went out: an older
    // message (a report of an earlier request, arriving in a catch-up) is never its answer.
    const after = this.headOutSeq;
    return new Promise<T>((resolve, reject) => {
      const waiters: [number, Waiter][] = [];
      const settle = () => {
        for (const [id, w] of waiters) {
          const list = this.waiting.get(id);
          list?.splice(list.indexOf(w), 1);
          if (list?.length === 0) this.waiting.delete(id);
        }
        this.refusals.delete(requestId);
        this.inFlight.delete(fail);
      };
      const fail = (e: Error) => {
        settle();
        reject(e);
      };
      for (const [id, answers] of awaited) {
        const w: Waiter = (m) => {
          if (m.outSeq <= after || !answers(m)) return false;
          settle();
          resolve(m as T);
          return true;
        };
        waiters.push([id, w]);
        const list = this.waiting.get(id);
        if (list) list.push(w);
        else this.waiting.set(id, [w]);
      }
      this.refusals.set(requestId, (r) => fail(new SessionRejectError(r)));
      this.inFlight.add(fail);
    });
  }

  /**
   * Cancels the account's orders (all, or of an instrument and side); resolves with the
   * MassCancelReport (how many it cancelled, or why it was refused), which follows the Cancelled
   * reports it caused.
   */
  massCancel(instrumentName: number | string = 0, side: sbe.SideFilter = sbe.SideFilter.Both): Promise<sbe.MassCancelReport> {
    if (!this.connected) return notConnected();
    return this.checked(() => {
      const instrument = this.instrumentId(instrumentName);
      const clOrdId = this.nextClOrdId++;
      const result = this.awaitReport<sbe.MassCancelReport>(clOrdId, [[clOrdId, (m) => 'cancelled' in m]]);
      this.send((v) => sbe.encodeMassCancel(v, 0, { clOrdId, instrument, side }));
      return result;
    });
  }

  /** The account's open orders (clOrdId 0 for those not entered by this key), oldest first. */
  openOrders(): Promise<sbe.OpenOrdersOrdersEntry[]> {
    if (!this.connected) return notConnected();
    const reqId = this.nextClOrdId++;
    return this.request<sbe.OpenOrdersOrdersEntry[]>((resolve) => {
      this.openOrderRequests.set(reqId, { orders: [], resolve });
      this.send((v) => sbe.encodeOpenOrdersRequest(v, 0, { reqId }));
    }, () => this.openOrderRequests.delete(reqId), reqId);
  }

  /** The account's balances: every asset it holds, available and held, in the asset's units (scale given). */
  balances(): Promise<sbe.BalancesBalancesEntry[]> {
    if (!this.connected) return notConnected();
    const reqId = this.nextClOrdId++;
    return this.request<sbe.BalancesBalancesEntry[]>((resolve) => {
      this.balanceRequests.set(reqId, resolve);
      this.send((v) => sbe.encodeBalancesRequest(v, 0, { reqId }));
    }, () => this.balanceRequests.delete(reqId), reqId);
  }

  /**
   * A request on the operator channel: a query ({query: 'venues'}, ...) or an action ({action:
   * 'venue.add', venue}, ...), answered once it is durable. Any key may ask the public queries
   * (rulebook, perp-reports, afmm); the rest need an operator key. Resolves with the AdminResponse,
   * refused or not; fails with a SessionRejectError if the gateway refuses the message itself (not
   * an operator key, over the rate limit).
   */
  admin(body: object): Promise<AdminAnswer> {
    if (!this.connected) return notConnected();
    return this.checked(() => {
      const reqId = this.nextClOrdId++;
      const m = { reqId, body: JSON.stringify(body) };
      const size = sbe.sizeOfAdminRequest(m);
      if (size > this.buffer.byteLength) throw new Error(`the request is ${size} bytes: a frame holds at most ${this.buffer.byteLength}`);
      return this.request<AdminAnswer>((resolve) => {
        this.adminRequests.set(reqId, resolve);
        this.send((v) => sbe.encodeAdminRequest(v, 0, m));
      }, () => this.adminRequests.delete(reqId), reqId);
    });
  }

  /**
   * The post-event reports (PERP-9) after node sequence `since` (default: every one the node keeps),
   * oldest first, fetched a page at a time (any key may ask). Fails with the node's reason if refused.
   */
  async perpReports(since = 0): Promise<PerpReportBody[]> {
    const reports: PerpReportBody[] = [];
    for (let after = since; ;) {
      const answer = await this.admin({ query: 'perp-reports', since: after });
      if (!answer.ok) throw new Error(`refused: ${answer.body.reasonName}: ${answer.body.text}`);
      const page = answer.body.reports as PerpReportBody[];
      reports.push(...page);
      if (!answer.body.more || page.length === 0) return reports;
      after = page[page.length - 1].seq;
    }
  }

  /**
   * A price source's index price (a price-source key only), signed with this client's key. Resolves
   * with the PriceUpdateAck once durable, accepted or refused with the node's reason and text (a
   * key that is not a source of the index, a stale price); fails with a SessionRejectError if the
   * gateway refuses the message itself (not a price-source key, a bad signature, the rate limit).
   */
  submitPrice(p: PriceRequest): Promise<sbe.PriceUpdateAck> {
    if (!this.connected) return notConnected();
    return this.checked(() => {
      const sourceTsUs = p.sourceTsUs ?? Math.max(Date.now() * 1000, this.lastSourceTsUs + 1);
      const signature = signPrice(this.options.privateKeyPem, this.options.keyId, p.underlying, p.price, sourceTsUs);
      this.lastSourceTsUs = Math.max(this.lastSourceTsUs, sourceTsUs);
      const reqId = this.nextClOrdId++;
      return this.request<sbe.PriceUpdateAck>((resolve) => {
        this.priceRequests.set(reqId, resolve);
        this.send((v) => sbe.encodePriceUpdate(v, 0, { reqId, underlying: p.underlying, price: p.price, sourceTsUs, signature }));
      }, () => this.priceRequests.delete(reqId), reqId);
    });
  }

  /** The account's perpetual figures are all in (the update and each of its positions). */
  private perpAccountComplete(): void {
    const figures = this.perpAssembling!;
    this.perpAssembling = undefined;
    this.perpAccount = figures;
    this.emit('perpAccount', figures.account, figures.positions);
  }

  /** A request answered outside the stream: fails if the connection drops (or is refused) first. */
  private request<T>(start: (resolve: (value: T) => void) => void, forget: () => void, refusableAs = 0): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const settle = () => {
        this.inFlight.delete(fail);
        if (refusableAs !== 0) this.refusals.delete(refusableAs);
      };
      const fail = (e: Error) => {
        settle();
        forget();
        reject(e);
      };
      this.inFlight.add(fail);
      // A SessionReject naming the request (its refClOrdId) fails it.
      if (refusableAs !== 0) this.refusals.set(refusableAs, (r) => fail(new SessionRejectError(r)));
      start((value) => {
        settle();
        resolve(value);
      });
    });
  }

  /** Delivers the key's stream again from `fromOutSeq` (its history, for a new client), in order. */
  replay(fromOutSeq: number): void {
    this.lastOutSeq = Math.min(this.lastOutSeq, Math.max(0, fromOutSeq - 1));
    this.requestReplay(Math.max(1, fromOutSeq));
  }

  private requestReplay(fromOutSeq: number): void {
    this.replayFrom = fromOutSeq;
    this.send((v) => sbe.encodeReplayRequest(v, 0, { fromOutSeq }));
  }

  /** A message of the key's stream: delivered in outSeq order, once; a gap is filled by replay first. */
  private onStream(m: StreamMessage): void {
    this.headOutSeq = Math.max(this.headOutSeq, m.outSeq);
    if (m.outSeq <= this.lastOutSeq) return; // already delivered (a replay overlap)
    if (m.outSeq > this.lastOutSeq + 1) {
      this.ahead.set(m.outSeq, m);
      return this.fillGap();
    }
    this.deliver(m);
    for (let next = this.ahead.get(this.lastOutSeq + 1); next; next = this.ahead.get(this.lastOutSeq + 1)) {
      this.ahead.delete(next.outSeq);
      this.deliver(next);
    }
    this.fillGap();
  }

  private deliver(m: StreamMessage): void {
    this.lastOutSeq = m.outSeq;
    // Requests are answered in the order they were made (the node sequences them so). History
    // delivered again by replay() answers none: a waiter takes only messages newer than its request.
    const waiters = this.waiting.get(m.clOrdId);
    if (waiters) for (const w of [...waiters]) if (w(m)) break;
    // A cancel by order id is answered by a report of an order whose client order id it did not know.
    const byOrderId = this.waiting.get(0);
    if (byOrderId && 'execType' in m) for (const w of [...byOrderId]) if (w(m)) break;
    if ('execType' in m) this.emit('report', m);
    else if ('cancelled' in m) this.emit('massCancelReport', m);
    else this.emit('cancelReject', m);
  }

  /** A ReplayRequest was refused: over the rate limit, ask again shortly; past the end, nothing is missing. */
  private replayRefused(r: sbe.SessionReject): void {
    this.replayFrom = 0;
    if (r.reason === sbe.RejectReason.BeyondStream) {
      this.headOutSeq = this.lastOutSeq;
      return;
    }
    setTimeout(() => this.fillGap(), REPLAY_RETRY_MS);
  }

  /** Asks for what is missing before the highest known sequence, a page at a time. */
  private fillGap(): void {
    const next = this.lastOutSeq + 1;
    if (next > this.headOutSeq) return;
    if (this.replayFrom !== 0 && next >= this.replayFrom && next < this.replayFrom + REPLAY_PAGE) return; // on its way
    this.requestReplay(next);
  }

  /**
   * Keeps a local book of the instrument (id or symbol); emits 'book' with it after every snapshot
   * or update. Resolves with the first snapshot; fails with the node's reason (an unknown instrument).
   */
  subscribeBook(name: number | string): Promise<void> {
    return this.checked(() => {
      const instrument = this.instrumentId(name);
      this.books.set(instrument, { levels: [new Map(), new Map()], bookSeq: 0, live: false });
      return this.awaitSubscription(instrument, () => this.requestBook(instrument));
    });
  }

  /** Emits 'trade' for each public trade of the instrument; resolves once subscribed (SubscribeAck). */
  subscribeTrades(name: number | string): Promise<void> {
    return this.checked(() => {
      const instrument = this.instrumentId(name);
      this.tradeSubscriptions.add(instrument);
      return this.awaitSubscription(instrument, () => this.send((v) => sbe.encodeSubscribe(v, 0, { instrument, channel: sbe.Channel.Trades, schemaVersion: sbe.SCHEMA_VERSION })));
    });
  }

  /**
   * Emits 'perpMarket' for a perpetual (id or symbol; 0: every perpetual) now and whenever its mark,
   * index or funding changes; resolves once subscribed (its PerpMarkets, then a SubscribeAck), or
   * fails with the node's reason (not a perpetual, a node without them).
   */
  subscribePerp(name: number | string = 0): Promise<void> {
    return this.checked(() => {
      const instrument = name === 0 ? 0 : this.instrumentId(name);
      this.perpSubscriptions.add(instrument);
      return this.awaitSubscription(instrument, () => this.send((v) => sbe.encodeSubscribe(v, 0, { instrument, channel: sbe.Channel.Perp, schemaVersion: sbe.SCHEMA_VERSION })), () => this.perpSubscriptions.delete(instrument));
    });
  }

  /** Sends a subscription and waits for its first answer (a snapshot or SubscribeAck) or its refusal. */
  private awaitSubscription(instrument: number, send: () => void, forget?: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.subscribing.push({
        instrument,
        done: (e) => {
          if (!e) return resolve();
          if (forget) forget();
          else {
            this.books.delete(instrument);
            this.tradeSubscriptions.delete(instrument);
          }
          reject(e);
        },
      });
      send();
    });
  }

  /** The oldest subscription waiting is answered (a snapshot or SubscribeAck) or refused. */
  private subscribed(error: Error | undefined): void {
    this.subscribing.shift()?.done(error);
  }

  private requestBook(instrument: number): void {
    const book = this.books.get(instrument)!;
    book.live = false;
    this.send((v) => sbe.encodeSubscribe(v, 0, { instrument, channel: sbe.Channel.Book, schemaVersion: sbe.SCHEMA_VERSION }));
  }

  private onSnapshot(m: sbe.BookSnapshot): void {
    const book = this.books.get(m.instrument);
    if (!book) return;
    // Part 0 starts the book afresh; it is live once the last part is in.
    if (m.part === 0) {
      book.levels = [new Map(), new Map()];
      book.live = false;
    } else if (book.live || m.bookSeq !== book.bookSeq) {
      return; // a part of a snapshot whose start this client did not see
    }
    for (const l of m.levels) book.levels[l.side].set(l.price, { price: l.price, qty: l.qty, count: l.count });
    book.bookSeq = m.bookSeq;
    if (m.part + 1 < m.parts) return;
    book.live = true;
    if (this.subscribing[0]?.instrument === m.instrument) this.subscribed(undefined);
    this.emit('book', this.book(m.instrument)!);
  }

  private onUpdate(m: sbe.BookUpdate): void {
    const book = this.books.get(m.instrument);
    if (!book || !book.live) return;
    if (m.bookSeq <= book.bookSeq) return; // already in the snapshot
    if (m.bookSeq !== book.bookSeq + 1) {
      this.emit('gap', m.instrument, book.bookSeq, m.bookSeq);
      return this.requestBook(m.instrument);
    }
    for (const l of m.levels) {
      if (l.qty === 0) book.levels[l.side].delete(l.price);
      else book.levels[l.side].set(l.price, { price: l.price, qty: l.qty, count: l.count });
    }
    book.bookSeq = m.bookSeq;
    this.emit('book', this.book(m.instrument)!);
  }

  /** The local book as it stands, best levels first. */
  book(instrument: number): LocalBook | undefined {
    const b = this.books.get(instrument);
    if (!b) return undefined;
    return {
      instrument, bookSeq: b.bookSeq,
      bids: [...b.levels[0].values()].sort((x, y) => y.price - x.price),
      asks: [...b.levels[1].values()].sort((x, y) => x.price - y.price),
    };
  }

  /** Drops the connection as a network fault would (for tests of reconnection). */
  dropConnection(): void {
    this.ws.terminate();
  }

  close(): void {
    this.closing = true;
    this.ws.close();
  }
}
