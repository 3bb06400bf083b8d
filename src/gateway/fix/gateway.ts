// The FIX 4.4 bridge for affiliated overseas venues (SL-7, SL-8, SL-10, OPS-1): a second listener
// of the node's batches beside the websocket gateway. Venues' orders enter the node as commands
// carrying their origin (this gateway, a request number); the reports a batch produces for a
// venue's orders (whoever's command caused them) are numbered as the batch is applied, stored in
// the batch's own transaction, and sent once it is durable. A venue sees only its own clients'
// reports and public market data.
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { readFileSync } from 'node:fs';
import { verify } from 'node:crypto';
import { EventKind, type CoreEvent } from '../../core/index.js';
import { fromUnits } from '../../client/units.js';
import { BookFeed } from '../../marketdata/book-feed.js';
import type { NodeCommand, Origin, Outcome } from '../../pipeline/commands.js';
import type { AppliedBatch, NodeRuntime } from '../../pipeline/runtime.js';
import { NodeReject, rejectName } from '../../risk/reasons.js';
import { publicKeyFromRaw } from '../ws/auth.js';
import { INTAKE_QUEUED_MAX } from '../ws/limits.js';
import { FixBlob, fixText, fixTime, parseFixTime, SessionReject, type FixMessage } from './codec.js';
import { FixSession, VenueLink, type SessionHost, type SessionStats } from './session.js';
import { FixStore, type FixOrderRow, type SequenceState } from './store.js';
import { RULES } from '../../venues/rulebook.js';
import { VenueRegistry } from '../../venues/registry.js';

export const FIX_PORT_DEFAULT = 8900;
/** ClOrdIDs of done orders (and of requests) per venue still refused as duplicates, the latest ones. */
export const CLORDIDS_RETAINED = 100_000;
/**
 * TCP connections at once, logged on or not (venues are few; each unauthenticated connection is
 * dropped after 10 s without a Logon): past it the listener refuses new ones.
 */
export const FIX_CONNECTIONS_MAX = 256;
/** Requests in the node at once, at most (a power of two, above the node's queue bound). */
const REQUESTS_MAX = 1 << 20;
/** A Logon's SendingTime more than this from the node's clock is refused. */
export const LOGON_SKEW_MS = RULES.logonSkewSeconds * 1000;
/** Gateway ids of FIX bridges (carried in command origins), apart from the websocket gateways'. */
let nextFixGatewayId = 1_000;

interface Listing { id: number; symbol: string; baseScale: number; quoteScale: number }

/** A venue order the bridge reports on. */
interface FixOrder extends FixOrderRow {
  /** 0 while the order is being sequenced. */
  orderId: number;
  /** Cancels and replaces that named it while it was being sequenced: entered once it has an id. */
  followers?: (() => void)[];
  /** Its venue's link (not stored). */
  link?: VenueLink;
  /** Whether its row is in the store (an order done within its first batch never is). */
  stored?: boolean;
  /** Its OrdStatus once done: filled or cancelled. */
  finalStatus?: number;
}


/** FIX TimeInForce(59) → the node's: Day is kept as GTC (the book has no trading day yet). */
const TIME_IN_FORCE: Readonly<Record<string, number>> = { 0: 0, 1: 0, 3: 1, 4: 2 };

/**
 * A FIX decimal ("0.0001") in units of 10^-scale, read digit by digit (exact, no floating point,
 * nothing allocated); what is wrong with it otherwise.
 */
function parseUnits(text: string, scale: number): number | string {
  let whole = 0;
  let fraction = 0;
  let decimals = -1;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (decimals >= 0 || i === 0 || i === n - 1) return 'is not a decimal number (digits, one optional point)';
      decimals = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return 'is not a decimal number (digits, one optional point)';
    if (decimals < 0) {
      whole = whole * 10 + d;
      if (whole > Number.MAX_SAFE_INTEGER) return 'is too large';
    } else if (++decimals > scale) {
      // A trailing zero past the scale is harmless; a significant digit there is not.
      if (d !== 0) return `has more decimal places than ${scale}`;
    } else fraction += d * POWERS[scale - decimals];
  }
  const units = whole * POWERS[scale] + fraction;
  if (!Number.isSafeInteger(units)) return 'is too large';
  if (units === 0) return 'must be above zero';
  return units;
}

/** A ClOrdID: printable ASCII (what the store and every report can carry as it is). */
const CLORDID = /^[\x20-\x7e]{1,64}$/;

const POWERS = Array.from({ length: 19 }, (_, i) => 10 ** i);


/** `units` of 10^-scale as a FIX decimal ("95000.5"), exactly; the order path's formatter. */
function decimal(units: number, scale: number): string {
  if (scale === 0 || units === 0) return String(units);
  const unit = POWERS[scale];
  const whole = Math.floor(units / unit);
  let frac = units - whole * unit;
  if (frac === 0) return String(whole);
  let digits = scale;
  while (frac % 10 === 0) {
    frac /= 10;
    digits--;
  }
  const text = String(frac);
  return `${whole}.${'0'.repeat(digits - text.length)}${text}`;
}

type RequestKind = 'new' | 'cancel' | 'replace' | 'mass' | 'attest';
interface FixRequest {
  /** Its number (the origin's clOrdId of its commands). */
  no: number;
  kind: RequestKind;
  link: VenueLink;
  inSeq: number;
  /** The link's sequence epoch when it came (a sequence reset starts a new one). */
  epoch: number;
  clOrdId: string;
  order?: FixOrder;
  /** A replace's new total quantity and price. */
  qty?: number;
  price?: number;
  /** A mass cancel: its type and symbol, how many commands are left to hear of, what they cancelled. */
  massType?: string;
  symbol?: string;
  commandsLeft?: number;
  cancelled?: number;
  /** A collateral assignment's CollAsgnReason(895), echoed in its response. */
  collReason?: string;
}

/** What an applied batch wrote for the bridge, until it is durable. */
interface BatchRows {
  out: BatchOut[];
  orders: FixOrder[];
  closed: FixOrder[];
  clOrdIds: [string, string, number][];
  /**
   * What write() puts, prepared at the end of applied(): LMDB runs the transaction's callback
   * later (after later batches may have been applied), so nothing is read there live.
   */
  rows?: { sequences: [string, SequenceState][]; open: FixOrderRow[]; closedIds: number[] };
}

/** What a batch produced for one venue: its messages (numbered), what to store with the batch. */
interface BatchOut { link: VenueLink; blob: FixBlob; epoch: number }

export interface FixGatewayOptions {
  /** Serve FIX over TLS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** Queued node commands past which new orders are refused as busy. */
  intakeQueuedMax?: number;
  /**
   * Called with each new order's time inside the node, in µs: from reading its message to its
   * first report being handed to the socket, durable (benchmarks; a clock read per order).
   */
  onOrderLatency?: (micros: number) => void;
}

/** OrdStatus(39) and ExecType(150) values, as the character codes the reports are written with. */
const ORD_STATUS_NEW = 0x30;
const ORD_STATUS_PARTIAL = 0x31;
const ORD_STATUS_FILLED = 0x32;
const ORD_STATUS_CANCELED = 0x34;
const ORD_STATUS_REJECTED = 0x38;
const EXEC_NEW = 0x30;
const EXEC_CANCELED = 0x34;
const EXEC_REPLACED = 0x35;
const EXEC_REJECTED = 0x38;
const EXEC_RESTATED = 0x44;
const EXEC_TRADE = 0x46;
/** Why the core cancelled an order (its CancelReason), as a report's Text. */
const CANCEL_TEXT = ['cancelled', 'cancelled', 'mass cancel', 'unfilled remainder (IOC or market)', 'FOK could not fill', 'self-trade prevention'];

/** FIX OrdRejReason(103) for a node reject. */
function ordRejReason(reason: number): number {
  switch (reason) {
    case NodeReject.UnknownInstrument: return 1;
    case NodeReject.UnknownAccount: case NodeReject.UnknownVenueClient: return 15;
    case NodeReject.InsufficientFunds: case NodeReject.NotionalLimit: case NodeReject.OpenOrdersLimit: case NodeReject.CustodyNotEligible:
    case NodeReject.NotionalTooLarge: return 3;
    case NodeReject.InvalidQuantity: case 3: case 4: case 5: return 13;
    case NodeReject.UnknownOrder: return 5;
    default: return 99;
  }
}

export class FixGateway implements SessionHost {
  readonly id = nextFixGatewayId++;
  readonly store: FixStore;
  readonly stats: SessionStats & { orders: number; reports: number } = { garbled: 0, rejects: 0, resent: 0, gapFills: 0, orders: 0, reports: 0 };
  private readonly server: Server;
  private readonly sessions = new Set<FixSession>();
  private readonly links = new Map<string, VenueLink>();
  private readonly listings = new Map<string, Listing>();
  private readonly listingsById = new Map<number, Listing>();
  /** Open venue orders by node order id. */
  private readonly orders = new Map<number, FixOrder>();
  /** Per venue: ClOrdID → the order it names (open or being sequenced), or the node order id it named. */
  private readonly clOrdIds = new Map<string, Map<string, FixOrder | number>>();
  /**
   * Requests in the node, by number, in a ring (request numbers rise; more in flight than the ring
   * holds is refused as busy): no map entry made and dropped per order.
   */
  private readonly requests: (FixRequest | undefined)[] = new Array<FixRequest | undefined>(REQUESTS_MAX).fill(undefined);
  /** Per venue, its retired ClOrdIDs, oldest first (see retire). */
  private readonly retired = new Map<string, { ids: string[]; head: number }>();
  private nextRequest = 1;
  /** Per applied batch, until durable: what it produced per venue, and rows to write with it. */
  private readonly batches = new Map<number, BatchRows>();
  private current: BatchRows | undefined;
  /** The applied batch's SendingTime and TransactTime (one clock read and format per batch). */
  private sendingTime = '';
  private transactTime = '';
  private transactTs = 0;
  /** ExecIDs: the command's sequence number and its report's place among the command's. */
  private execSeq = 0;
  private execIndex = 0;
  private readonly book = new BookFeed(1_000);
  /** Market data subscriptions: session → MDReqID by instrument. */
  private readonly subscriptions = new Map<FixSession, Map<number, { reqId: string; trades: boolean; book: boolean }>>();
  private readonly timer: NodeJS.Timeout;
  private readonly detach: () => void;
  private readonly intakeQueuedMax: number;
  private readonly onOrderLatency: FixGatewayOptions['onOrderLatency'];
  private execIds = 0;

  constructor(private readonly node: NodeRuntime, options: FixGatewayOptions = {}) {
    if (!node.idle) throw new Error('a FIX gateway must be created while the node is idle (nothing queued or in flight)');
    this.intakeQueuedMax = options.intakeQueuedMax ?? INTAKE_QUEUED_MAX;
    this.onOrderLatency = options.onOrderLatency;
    this.store = new FixStore(node.store);
    const ledger = node.ledger;
    for (const l of node.config.instruments) {
      const listing = {
        id: l.spec.id, symbol: l.symbol,
        baseScale: ledger.assets[ledger.assetIndex.get(l.base)!].scale, quoteScale: ledger.assets[ledger.assetIndex.get(l.quote)!].scale,
      };
      this.listings.set(l.symbol, listing);
      this.listingsById.set(l.spec.id, listing);
    }
    // Open venue orders and used ClOrdIDs from the store (the node's open orders are the truth).
    for (const row of this.store.openOrders()) {
      if (node.pipeline.orders.has(row.orderId)) this.orders.set(row.orderId, { ...row, stored: true });
    }
    for (const code of node.pipeline.venues.registry.venues.keys()) {
      const used = [...this.store.usedClOrdIds(code, CLORDIDS_RETAINED)].reverse();
      for (const [clOrdId, orderId] of used) {
        const open = this.orders.get(orderId);
        // Only its current ClOrdID names an open order (a replaced one is retired).
        if (open && open.clOrdId === clOrdId) this.idsOf(code).set(clOrdId, open);
        else this.retire(code, clOrdId, orderId);
      }
    }
    for (const o of this.orders.values()) this.idsOf(o.venue).set(o.clOrdId, o);
    this.book.seed(node.pipeline.orders.values());
    const onConnection = (socket: Socket) => {
      const session = new FixSession(socket, this, `${socket.remoteAddress}:${socket.remotePort}`);
      this.sessions.add(session);
    };
    this.server = options.tls
      ? createTlsServer({ cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }, onConnection)
      : createServer(onConnection);
    this.server.maxConnections = FIX_CONNECTIONS_MAX;
    this.detach = node.attach({
      applied: (b) => this.applied(b),
      write: (batch) => this.write(batch),
      durable: (b) => this.durable(b),
      failed: () => {
        for (const s of this.sessions) s.drop('the node stopped');
      },
    });
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const s of this.sessions) s.tick(now);
    }, 1000);
    this.timer.unref();
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      const refused = (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'EADDRINUSE'
        ? `cannot listen for FIX on ${host}:${port}: the port is in use (--fix-port)` : `cannot listen for FIX on ${host}:${port}: ${e.message}`));
      this.server.once('error', refused);
      this.server.listen({ port, host, exclusive: true }, () => {
        this.server.off('error', refused);
        // After listening, an accept error (out of file descriptors) is logged, never fatal.
        this.server.on('error', (e) => console.error('junction fix: the listener failed to accept:', e.message));
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    for (const s of this.sessions) s.drop('the node is stopping');
    this.detach();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Venues logged on now (what /metrics reports). */
  get venuesLoggedOn(): number {
    let n = 0;
    for (const link of this.links.values()) if (link.session?.active) n++;
    return n;
  }

  /** Connections open, logged on or not. */
  get connections(): number { return this.sessions.size; }

  /**
   * A ClOrdID that no longer names an open order (the order is done, or it was a request's own):
   * refused as a duplicate while among the venue's last CLORDIDS_RETAINED such ids.
   */
  private retire(venue: string, clOrdId: string, orderId: number): void {
    this.idsOf(venue).set(clOrdId, orderId);
    let ring = this.retired.get(venue);
    if (!ring) this.retired.set(venue, (ring = { ids: [], head: 0 }));
    ring.ids.push(clOrdId);
    if (ring.ids.length - ring.head > CLORDIDS_RETAINED) {
      const oldest = ring.ids[ring.head++];
      const ids = this.idsOf(venue);
      // Only if it was not used again since (then it names something newer).
      if (typeof ids.get(oldest) === 'number') ids.delete(oldest);
      if (ring.head > 65_536) {
        ring.ids = ring.ids.slice(ring.head);
        ring.head = 0;
      }
    }
  }

  private idsOf(venue: string): Map<string, FixOrder | number> {
    let ids = this.clOrdIds.get(venue);
    if (!ids) this.clOrdIds.set(venue, (ids = new Map()));
    return ids;
  }

  private linkOf(venue: string): VenueLink {
    let link = this.links.get(venue);
    const v = this.node.pipeline.venues.registry.venues.get(venue)!;
    if (!link) this.links.set(venue, (link = new VenueLink(venue, this.store.sequence(venue), v.targetCompId, v.senderCompId)));
    else link.setCompIds(v.targetCompId, v.senderCompId);
    return link;
  }

  // ---- session host ----------------------------------------------------------------------------

  logon(session: FixSession, m: FixMessage, nowMs: number): VenueLink | { refuse: string; link?: VenueLink } {
    const registry = this.node.pipeline.venues.registry;
    const sender = m.get(49) ?? '';
    const code = registry.byCompId.get(sender);
    if (code === undefined) return { refuse: `unknown SenderCompID ${JSON.stringify(sender)}` };
    const venue = registry.venues.get(code)!;
    if (m.get(56) !== venue.targetCompId) return { refuse: `TargetCompID must be ${venue.targetCompId}` };
    const sendingTime = m.get(52) ?? '';
    const signature = m.get(96);
    if (signature === undefined || m.get(95) !== String(signature.length)) return { refuse: 'RawDataLength(95) and RawData(96) must carry the Logon signature' };
    const signed = Buffer.from(`${sendingTime}\x01A\x01${m.get(34) ?? ''}\x01${sender}\x01${m.get(56)}`, 'latin1');
    let good = false;
    try {
      good = verify(null, signed, publicKeyFromRaw(Buffer.from(venue.publicKey, 'base64')), Buffer.from(signature, 'base64'));
    } catch {
      good = false;
    }
    if (!good) return { refuse: 'the Logon signature (RawData) does not verify with the venue\'s key' };
    const sent = parseFixTime(sendingTime);
    if (Number.isNaN(sent) || Math.abs(sent - nowMs) > LOGON_SKEW_MS) return { refuse: `SendingTime is more than ${LOGON_SKEW_MS / 1000} s from the node's clock` };
    const heartbeat = Number(m.get(108));
    if (m.get(98) !== '0') return { refuse: 'EncryptMethod(98) must be 0' };
    if (!Number.isInteger(heartbeat) || heartbeat < 1 || heartbeat > 300) return { refuse: 'HeartBtInt(108) must be 1 to 300 seconds' };
    const link = this.linkOf(code);
    if (link.session) return { refuse: `venue ${code} is already logged on` };
    const why = registry.refusal(code, nowMs * 1000);
    if (why !== undefined) return { refuse: `venue ${code} may not trade: ${why}`, link };
    return link;
  }

  ended(session: FixSession, link: VenueLink | undefined): void {
    this.sessions.delete(session);
    this.subscriptions.delete(session);
    if (!link) return;
    const venue = this.node.pipeline.venues.registry.venues.get(link.venue);
    if (venue?.cancelOnDisconnect && venue.status === 'active') {
      // Cancel-on-disconnect takes risk off: never refused for room.
      for (const account of Object.values(venue.clients)) this.node.enqueue({ type: 'massCancel', account }, undefined, undefined, true);
    }
  }

  application(session: FixSession, m: FixMessage): void {
    switch (m.msgType) {
      case 'D': return this.newOrder(session, m);
      case 'F': return this.cancelOrReplace(session, m, false);
      case 'G': return this.cancelOrReplace(session, m, true);
      case 'q': return this.massCancel(session, m);
      case 'V': return this.marketDataRequest(session, m);
      case 'AY': return this.collateralAssignment(session, m);
      default:
        return session.businessReject(m, 3, `MsgType ${m.msgType} is not supported`);
    }
  }

  // ---- order entry -----------------------------------------------------------------------------

  /** The first required tag missing, if any: refused with a Reject(3). */
  private missing(session: FixSession, m: FixMessage, tags: readonly number[]): boolean {
    for (const tag of tags) {
      if (!m.has(tag)) {
        session.reject(m, { reason: SessionReject.RequiredTagMissing, tag, text: `required tag ${tag} missing` });
        return true;
      }
    }
    return false;
  }

  private badValue(session: FixSession, m: FixMessage, tag: number, text: string, reason = SessionReject.ValueIncorrect): void {
    session.reject(m, { reason, tag, text });
  }

  /** A decimal field in units of 10^-scale; undefined (and a Reject sent) when it is not one. */
  private units(session: FixSession, m: FixMessage, tag: number, scale: number, what: string): number | undefined {
    const text = m.get(tag)!;
    const units = parseUnits(text, scale);
    if (typeof units === 'number') return units;
    this.badValue(session, m, tag, `${what} ${JSON.stringify(text)} ${units}`, SessionReject.IncorrectDataFormat);
    return undefined;
  }

  /** An ExecutionReport rejecting a request the node never saw (kept for resends). */
  private rejectOrder(session: FixSession, m: FixMessage, reason: number, text: string): void {
    const listing = this.listings.get(m.get(55) ?? '');
    const price = m.get(44);
    session.send('8', `37=NONE\x0111=${fixText(m.get(11)!)}\x01${m.has(1) ? `1=${fixText(m.get(1)!)}\x01` : ''}17=${this.execId()}\x01150=8\x0139=8\x01`
      + `55=${fixText(m.get(55)!)}\x0154=${m.get(54)}\x0138=${fixText(m.get(38) ?? '0')}\x01${price && listing ? `44=${fixText(price)}\x01` : ''}`
      + `151=0\x0114=0\x016=0\x0160=${fixTime(Date.now())}\x01103=${reason}\x0158=${fixText(text)}\x01`, undefined, undefined, true);
  }

  /** A gateway reject's ExecID (no node sequence number): its own series. */
  private execId(): string {
    return `G${Date.now().toString(36)}.${(++this.execIds).toString(36)}`;
  }

  private busy(): boolean {
    return this.node.queued >= this.intakeQueuedMax;
  }

  private newOrder(session: FixSession, m: FixMessage): void {
    if (this.missing(session, m, [11, 1, 55, 54, 38, 40])) return;
    const link = session.link!;
    const clOrdId = m.get(11)!;
    if (!CLORDID.test(clOrdId)) return this.badValue(session, m, 11, 'ClOrdID(11) is 1 to 64 printable characters');
    const side = m.get(54);
    if (side !== '1' && side !== '2') return this.badValue(session, m, 54, 'Side(54) must be 1 (buy) or 2 (sell)');
    const ordType = m.get(40);
    if (ordType !== '1' && ordType !== '2') return this.badValue(session, m, 40, 'OrdType(40) must be 1 (market) or 2 (limit)');
    const tifText = m.get(59) ?? '1';
    let tif = Object.hasOwn(TIME_IN_FORCE, tifText) ? TIME_IN_FORCE[tifText] : undefined;
    if (tif === undefined) return this.badValue(session, m, 59, 'TimeInForce(59) must be 0 (day, as GTC), 1 (GTC), 3 (IOC) or 4 (FOK)');
    const execInst = m.get(18);
    if (execInst !== undefined) {
      if (execInst !== '6') return this.badValue(session, m, 18, 'ExecInst(18) may only be 6 (post-only)');
      if (tif !== 0 || ordType !== '2') return this.rejectOrder(session, m, 11, 'post-only (ExecInst 6) is for GTC limit orders');
      tif = 3;
    }
    if (!m.has(44)) return session.reject(m, { reason: SessionReject.RequiredTagMissing, tag: 44, text: ordType === '2' ? 'a limit order needs Price(44)' : 'a market order needs Price(44) as its protection price' });
    const listing = this.listings.get(m.get(55)!);
    if (!listing) return this.rejectOrder(session, m, 1, `UnknownInstrument: no symbol ${m.get(55)}`);
    const qty = this.units(session, m, 38, listing.baseScale, 'OrderQty(38)');
    if (qty === undefined) return;
    const price = this.units(session, m, 44, listing.quoteScale, 'Price(44)');
    if (price === undefined) return;
    const venue = this.node.pipeline.venues.registry.venues.get(link.venue)!;
    const client = m.get(1)!;
    const account = VenueRegistry.clientAccount(venue, client);
    if (account === undefined) return this.rejectOrder(session, m, 15, `UnknownVenueClient: ${link.venue} has no client ${client}`);
    const ids = this.idsOf(link.venue);
    if (ids.has(clOrdId)) {
      // A possible duplicate (PossDupFlag=Y) of an order already entered was processed: nothing to do.
      if (m.get(43) === 'Y') return;
      return this.rejectOrder(session, m, 6, `DuplicateClOrdID: ${clOrdId} was already used`);
    }
    if (this.busy()) return this.rejectOrder(session, m, 99, 'Busy: the node is at its intake limit; retry');
    const order: FixOrder = {
      orderId: 0, venue: link.venue, clOrdId, client, account, instrument: listing.id, side: side === '1' ? 0 : 1,
      ordType: ordType === '1' ? 1 : 0, tif, price, qty, cumQty: 0, cumNotional: 0,
    };
    const command = this.node.orderCommand();
    command.account = account; command.instrument = listing.id; command.side = order.side; command.orderType = order.ordType;
    command.tif = tif; command.price = price; command.qty = qty; command.stpMode = undefined;
    const request = this.request(command.origin, { kind: 'new', link, inSeq: m.seq, clOrdId, order, epoch: link.epoch });
    if (!request) return this.rejectOrder(session, m, 99, 'Busy: too many requests in the node; retry');
    if (this.onOrderLatency) command.origin.arrivedMs = performance.now();
    ids.set(clOrdId, order);
    link.pendingIn.add(m.seq);
    this.stats.orders++;
    if (!this.node.enqueue(command)) {
      this.forget(request);
      ids.delete(clOrdId);
      link.pendingIn.delete(m.seq);
      this.rejectOrder(session, m, 99, 'Busy: the node is at its intake limit; retry');
    }
  }

  /**
   * Numbers a request and keeps it in the ring; undefined (refused as busy by the caller) in the
   * unlikely case its slot is still taken: more requests in the node than the ring holds.
   */
  private request(origin: Origin, r: Omit<FixRequest, 'no'>): FixRequest | undefined {
    const request = r as FixRequest;
    const no = this.nextRequest;
    if (this.requests[no & (REQUESTS_MAX - 1)] !== undefined) return undefined;
    this.nextRequest++;
    request.no = no;
    origin.gateway = this.id; origin.keyId = 0; origin.clOrdId = no; origin.origClOrdId = undefined; origin.arrivedMs = undefined;
    this.requests[no & (REQUESTS_MAX - 1)] = request;
    return request;
  }

  private requestOf(no: number): FixRequest | undefined {
    const r = this.requests[no & (REQUESTS_MAX - 1)];
    return r !== undefined && r.no === no ? r : undefined;
  }

  private forget(r: FixRequest): void {
    const slot = r.no & (REQUESTS_MAX - 1);
    if (this.requests[slot] === r) this.requests[slot] = undefined;
  }

  /**
   * OrderCancelReject(9) of a request the node never saw (kept for resends). Inside a batch being
   * applied (a request that followed an order still being sequenced) it is one of the batch's
   * messages, numbered and stored with them; otherwise the session sends it on its own.
   */
  private cancelReject(session: FixSession, m: FixMessage, replace: boolean, reason: number, text: string, order?: FixOrder): void {
    const body = `37=${order && order.orderId ? order.orderId : 'NONE'}\x0111=${fixText(m.get(11) ?? '')}\x0141=${fixText(m.get(41) ?? '')}\x01`
      + `39=${String.fromCharCode(order ? this.currentStatus(order) : ORD_STATUS_REJECTED)}\x01434=${replace ? 2 : 1}\x01102=${reason}\x0158=${fixText(text)}\x01`;
    if (this.current && session.link) this.emit(session.link, '9', body);
    else session.send('9', body, undefined, undefined, true);
  }

  private cancelOrReplace(session: FixSession, m: FixMessage, replace: boolean): void {
    if (this.missing(session, m, replace ? [11, 41, 55, 54, 38, 40] : [11, 41, 55, 54])) return;
    const link = session.link!;
    const clOrdId = m.get(11)!;
    if (!CLORDID.test(clOrdId)) return this.badValue(session, m, 11, 'ClOrdID(11) is 1 to 64 printable characters');
    const ids = this.idsOf(link.venue);
    // A possible duplicate (PossDupFlag=Y) of a request already entered was processed: nothing to do.
    if (m.get(43) === 'Y' && ids.has(clOrdId)) return;
    const named = ids.get(m.get(41)!);
    const order = typeof named === 'object' ? named : undefined;
    if (typeof named === 'number' && named > 0) {
      const live = this.orders.get(named);
      if (live) return this.cancelReject(session, m, replace, 1, `UnknownOrder: ${m.get(41)} was replaced; the order's ClOrdID is now ${live.clOrdId}`, live);
      return this.cancelReject(session, m, replace, 0, `TooLateToCancel: order ${named} is done`);
    }
    if (!order) return this.cancelReject(session, m, replace, 1, `UnknownOrder: no open order ${m.get(41)}`);
    if (ids.has(clOrdId)) return this.cancelReject(session, m, replace, 6, `DuplicateClOrdID: ${clOrdId} was already used`, order);
    const listing = this.listingsById.get(order.instrument)!;
    if (m.get(55) !== listing.symbol || m.get(54) !== (order.side === 0 ? '1' : '2')) {
      return this.cancelReject(session, m, replace, 99, 'Symbol(55) and Side(54) must be the order\'s', order);
    }
    if (m.has(1) && m.get(1) !== order.client) return this.cancelReject(session, m, replace, 99, 'Account(1) must be the order\'s', order);
    // Cancels take risk off: refused for room only at twice the intake limit (as on the websocket).
    if (!replace && this.node.queued >= 2 * this.intakeQueuedMax) return this.cancelReject(session, m, false, 99, 'Busy: the node is at its intake limit; retry', order);
    const request: Omit<FixRequest, 'no'> = { kind: replace ? 'replace' : 'cancel', link, inSeq: m.seq, clOrdId, order, epoch: link.epoch };
    if (replace) {
      if (m.get(40) !== '2') return this.badValue(session, m, 40, 'a replace keeps a limit order: OrdType(40) must be 2');
      if (!m.has(44)) return session.reject(m, { reason: SessionReject.RequiredTagMissing, tag: 44, text: 'a replace needs Price(44)' });
      const qty = this.units(session, m, 38, listing.baseScale, 'OrderQty(38)');
      if (qty === undefined) return;
      const price = this.units(session, m, 44, listing.quoteScale, 'Price(44)');
      if (price === undefined) return;
      request.qty = qty;
      request.price = price;
      if (this.busy()) return this.cancelReject(session, m, true, 99, 'Busy: the node is at its intake limit; retry', order);
    }
    // Used from now on; a replace's new ClOrdID names the order at once, so a cancel or replace can
    // follow it before it is applied (it is refused then if the replace is).
    if (replace) ids.set(clOrdId, order);
    else this.retire(link.venue, clOrdId, 0);
    link.pendingIn.add(m.seq);
    const refused = (reason: number, text: string) => {
      if (request.epoch === link.epoch) link.pendingIn.delete(m.seq);
      // A refused replace's new ClOrdID names nothing: it is retired (still refused as a duplicate).
      if (replace) this.retire(link.venue, clOrdId, order.orderId);
      this.cancelReject(session, m, replace, reason, text, order);
    };
    const enter = () => {
      // Done meanwhile (filled or cancelled while being sequenced).
      if (!this.orders.has(order.orderId)) return refused(0, 'TooLateToCancel: the order is done');
      let command: NodeCommand;
      if (replace) {
        // OrderQty is the total: what is left to set is what has not filled. The amend applies only
        // if nothing filled in between (ifRemaining); otherwise it is refused as OrderChanged.
        const remaining = request.qty! - order.cumQty;
        if (remaining <= 0) return refused(99, `OrderQty ${m.get(38)} is not above what has filled`);
        command = {
          type: 'amend', account: order.account, instrument: order.instrument, orderId: order.orderId, price: request.price!, qty: remaining,
          ifRemaining: order.qty - order.cumQty, origin: { gateway: 0, keyId: 0, clOrdId: 0 },
        };
      } else {
        command = { type: 'cancel', account: order.account, instrument: order.instrument, orderId: order.orderId, origin: { gateway: 0, keyId: 0, clOrdId: 0 } };
      }
      const entered = this.request(command.origin!, request);
      if (!entered) return refused(99, 'Busy: too many requests in the node; retry');
      // A cancel takes risk off: never refused for room here (it was checked against twice the
      // intake limit when it came).
      if (!this.node.enqueue(command, undefined, undefined, !replace)) {
        this.forget(entered);
        refused(99, 'Busy: the node is at its intake limit; retry');
      }
    };
    if (order.orderId === 0) (order.followers ??= []).push(enter);
    else enter();
  }

  private massCancel(session: FixSession, m: FixMessage): void {
    if (this.missing(session, m, [11, 530])) return;
    const link = session.link!;
    const type = m.get(530)!;
    if (type !== '1' && type !== '7') return this.badValue(session, m, 530, 'MassCancelRequestType(530) must be 1 (a symbol) or 7 (all orders)');
    let instrument: number | undefined;
    if (type === '1') {
      if (!m.has(55)) return session.reject(m, { reason: SessionReject.RequiredTagMissing, tag: 55, text: 'MassCancelRequestType 1 needs Symbol(55)' });
      const listing = this.listings.get(m.get(55)!);
      if (!listing) return this.massCancelReport(session, m.get(11)!, type, m.get(55), 0, 1, `UnknownInstrument: no symbol ${m.get(55)}`);
      instrument = listing.id;
    }
    const venue = this.node.pipeline.venues.registry.venues.get(link.venue)!;
    let accounts = Object.values(venue.clients);
    if (m.has(1)) {
      const account = VenueRegistry.clientAccount(venue, m.get(1)!);
      if (account === undefined) return this.massCancelReport(session, m.get(11)!, type, m.get(55), 0, 99, `UnknownVenueClient: ${m.get(1)}`);
      accounts = [account];
    }
    if (accounts.length === 0) return this.massCancelReport(session, m.get(11)!, type, m.get(55), 0);
    const origin: Origin = { gateway: 0, keyId: 0, clOrdId: 0 };
    if (this.node.queued >= 2 * this.intakeQueuedMax) return this.massCancelReport(session, m.get(11)!, type, m.get(55), 0, 99, 'Busy: the node is at its intake limit; retry');
    const request = this.request(origin, { kind: 'mass', link, inSeq: m.seq, clOrdId: m.get(11)!, massType: type, symbol: m.get(55), commandsLeft: accounts.length, cancelled: 0, epoch: link.epoch });
    if (!request) return this.massCancelReport(session, m.get(11)!, type, m.get(55), 0, 99, 'Busy: too many requests in the node; retry');
    link.pendingIn.add(m.seq);
    for (const account of accounts) {
      const command: NodeCommand = { type: 'massCancel', account, origin };
      if (instrument !== undefined) command.instrument = instrument;
      this.node.enqueue(command, undefined, undefined, true);
    }
  }

  private massCancelBody(clOrdId: string, type: string, symbol: string | undefined, affected: number, rejectReason?: number, text?: string): string {
    return `37=NONE\x0111=${fixText(clOrdId)}\x01530=${type}\x01531=${rejectReason === undefined ? type : 0}\x01`
      + `${rejectReason !== undefined ? `532=${rejectReason}\x01` : ''}533=${affected}\x01${symbol ? `55=${fixText(symbol)}\x01` : ''}${text ? `58=${fixText(text)}\x01` : ''}`;
  }

  private massCancelReport(session: FixSession, clOrdId: string, type: string, symbol: string | undefined, affected: number, rejectReason?: number, text?: string): void {
    session.send('r', this.massCancelBody(clOrdId, type, symbol, affected, rejectReason, text), undefined, undefined, true);
  }

  // ---- custody attestations ----------------------------------------------------------------------

  /**
   * CollateralAssignment(AY): the venue earmarks a client's assets for the shared book (903=0) or
   * releases them (903=3), as a custody attestation: CollAsgnID(902) is its id (idempotent),
   * Account(1) the client, Currency(15) the asset, Quantity(53) the amount in the asset's units.
   * Sequenced like an operator's; answered by a CollateralResponse(AZ) once durable.
   */
  private collateralAssignment(session: FixSession, m: FixMessage): void {
    if (this.missing(session, m, [902, 903, 895, 1, 15, 53])) return;
    const reason = m.get(895)!;
    if (!/^\d{1,3}$/.test(reason)) return this.badValue(session, m, 895, 'CollAsgnReason(895) must be a number (0: initial)');
    const link = session.link!;
    const id = m.get(902)!;
    if (!/^[\x21-\x7e]{1,128}$/.test(id)) return this.badValue(session, m, 902, 'CollAsgnID(902) is 1 to 128 printable characters');
    const type = m.get(903);
    if (type !== '0' && type !== '3') return this.badValue(session, m, 903, 'CollAsgnTransType(903) must be 0 (new: earmark) or 3 (release)');
    const code = m.get(15)!;
    const assetIndex = this.node.ledger.assetIndex.get(code);
    if (assetIndex === undefined) {
      return session.send('AZ', this.collateralResponse(this.execId(), id, reason, false, `UnknownAsset: no asset ${fixText(code)}`, Date.now()), undefined, undefined, true);
    }
    const amount = this.units(session, m, 53, this.node.ledger.assets[assetIndex].scale, 'Quantity(53)');
    if (amount === undefined) return;
    if (this.node.queued >= this.intakeQueuedMax) return session.send('AZ', this.collateralResponse(this.execId(), id, reason, false, 'Busy: the node is at its intake limit; retry', Date.now()), undefined, undefined, true);
    const origin: Origin = { gateway: 0, keyId: 0, clOrdId: 0 };
    if (!this.request(origin, { kind: 'attest', link, inSeq: m.seq, clOrdId: id, epoch: link.epoch, collReason: reason })) {
      return session.send('AZ', this.collateralResponse(this.execId(), id, reason, false, 'Busy: too many requests in the node; retry', Date.now()), undefined, undefined, true);
    }
    link.pendingIn.add(m.seq);
    this.node.enqueue({
      type: 'admin', operator: 0, byVenue: link.venue, origin,
      body: { action: type === '0' ? 'custody.attest' : 'custody.release', venue: link.venue, client: m.get(1)!, asset: code, amount, id },
    }, undefined, undefined, true);
  }

  /** CollateralResponse(AZ): accepted, or rejected with the reason. */
  private collateralResponse(respId: string, id: string, reason: string, ok: boolean, text: string | undefined, atMs: number): string {
    return `904=${respId}\x01902=${fixText(id)}\x01895=${reason}\x01905=${ok ? 1 : 3}\x01${ok ? '' : '906=99\x01'}60=${fixTime(atMs)}\x01${text ? `58=${text}\x01` : ''}`;
  }

  // ---- market data -----------------------------------------------------------------------------

  private marketDataRequest(session: FixSession, m: FixMessage): void {
    if (this.missing(session, m, [262, 263])) return;
    const reqId = m.get(262)!;
    const type = m.get(263)!;
    if (type !== '0' && type !== '1' && type !== '2') return this.badValue(session, m, 263, 'SubscriptionRequestType(263) must be 0, 1 or 2');
    const symbols: string[] = [];
    const entryTypes = new Set<string>();
    for (let i = 0; i < m.tags.length; i++) {
      if (m.tags[i] === 55) symbols.push(m.values[i]);
      if (m.tags[i] === 269) entryTypes.add(m.values[i]);
    }
    let subs = this.subscriptions.get(session);
    if (type === '2') {
      if (subs) for (const [id, s] of subs) if (s.reqId === reqId) subs.delete(id);
      return;
    }
    if (symbols.length === 0) return session.reject(m, { reason: SessionReject.RequiredTagMissing, tag: 55, text: 'NoRelatedSym(146) must name a Symbol(55)' });
    for (const t of entryTypes) if (t !== '0' && t !== '1' && t !== '2') return session.businessReject(m, 0, `MDEntryType ${t} is not published`, reqId);
    const listings: Listing[] = [];
    for (const s of symbols) {
      const l = this.listings.get(s);
      if (!l) return session.send('Y', `262=${fixText(reqId)}\x01281=0\x0158=${fixText(`UnknownSymbol: ${s}`)}\x01`, undefined, undefined, true);
      listings.push(l);
    }
    const book = entryTypes.size === 0 || entryTypes.has('0') || entryTypes.has('1');
    const trades = entryTypes.size === 0 || entryTypes.has('2');
    for (const l of listings) {
      const snapshot = this.book.snapshot(l.id);
      let entries = '';
      let n = 0;
      if (book) {
        for (const level of snapshot.levels) {
          entries += `269=${level.side}\x01270=${fromUnits(level.price, l.quoteScale)}\x01271=${fromUnits(level.qty, l.baseScale)}\x01346=${level.count}\x01`;
          n++;
        }
      }
      session.send('W', `262=${fixText(reqId)}\x0155=${l.symbol}\x01268=${n}\x01${entries}`);
      if (type === '1') {
        if (!subs) this.subscriptions.set(session, (subs = new Map()));
        subs.set(l.id, { reqId, book, trades });
      }
    }
  }

  // ---- the node's batches ----------------------------------------------------------------------

  private outOf(link: VenueLink): BatchOut {
    const cur = this.current!;
    for (const o of cur.out) if (o.link === link) return o;
    const o: BatchOut = { link, blob: new FixBlob(), epoch: link.epoch };
    cur.out.push(o);
    return o;
  }

  /**
   * A message of the batch being applied, to a venue: numbered now, written into the venue's blob
   * of the batch (stored with it, and sent as it is once it is durable).
   */
  private emit(link: VenueLink, msgType: string, body: string): void {
    const out = this.outOf(link);
    link.writer.writeInto(out.blob, msgType, link.seq.nextOut++, this.sendingTime, body);
    if (msgType === '8') this.stats.reports++;
  }

  private applied(b: AppliedBatch): void {
    this.current = { out: [], orders: [], closed: [], clOrdIds: [] };
    const cur = this.current;
    this.sendingTime = fixTime(Date.now());
    for (let i = 0; i < b.commands.length; i++) {
      const c = b.commands[i].command;
      const outcome = b.outcomes[i];
      this.execSeq = outcome.seq;
      this.execIndex = 0;
      const origin = c.type === 'deposit' || c.type === 'withdraw' ? undefined : c.origin;
      const request = origin && origin.gateway === this.id ? this.requestOf(origin.clOrdId) : undefined;
      if (request) this.requestApplied(request, outcome);
      this.ts = outcome.ts;
      this.activeRequest = request;
      outcome.forEachEvent(this.event);
      this.activeRequest = undefined;
      const fresh = this.fresh;
      if (fresh !== undefined) {
        // A new order still open after its own events rests: from now on it is found by its id.
        this.fresh = undefined;
        if (!this.freshDone) this.orders.set(fresh.orderId, fresh);
      }
      const followers = request?.order?.followers;
      if (request?.kind === 'new' && followers) {
        request.order!.followers = undefined;
        for (const f of followers) f();
      }
      if (request?.kind === 'mass') {
        request.commandsLeft!--;
        if (request.commandsLeft === 0) {
          this.forget(request);
          if (request.epoch === request.link.epoch) request.link.pendingIn.delete(request.inSeq);
          this.emit(request.link, 'r', this.massCancelBody(request.clOrdId, request.massType!, request.symbol, request.cancelled!));
        }
      }
      if (c.type === 'admin' && outcome.ok) this.venuesChanged(outcome.ts);
    }
    this.publishMarketData();
    for (const out of cur.out) if (out.link.session?.active) out.link.session.queue(out.blob.lastSeq, out.blob.view());
    if (cur.out.length > 0 || cur.orders.length > 0 || cur.closed.length > 0 || cur.clOrdIds.length > 0) {
      cur.rows = {
        sequences: cur.out.map((out) => [out.link.venue, { nextIn: out.link.persistedIn(), nextOut: out.link.seq.nextOut }]),
        open: cur.orders.filter((o) => this.orders.get(o.orderId) === o).map((o) => this.row(o)),
        closedIds: cur.closed.map((o) => o.orderId),
      };
      for (const o of cur.orders) if (this.orders.get(o.orderId) === o) o.stored = true;
      for (const o of cur.closed) o.stored = false;
      this.batches.set(b.batch, cur);
    }
    this.current = undefined;
  }

  private ts = 0;
  private activeRequest: FixRequest | undefined;
  /** The new order whose own events are being reported, and whether they finished it. */
  private fresh: FixOrder | undefined;
  private freshDone = false;

  /** A venue order an event names: the new order being reported, or an open one. */
  private orderOf(orderId: number): FixOrder | undefined {
    const f = this.fresh;
    return f !== undefined && f.orderId === orderId ? f : this.orders.get(orderId);
  }

  /** A request's own answer, from its outcome (its events follow). */
  private requestApplied(r: FixRequest, outcome: Outcome): void {
    if (r.kind === 'mass') return;
    this.forget(r);
    if (r.epoch === r.link.epoch) r.link.pendingIn.delete(r.inSeq);
    if (r.kind === 'attest') {
      return this.emit(r.link, 'AZ', this.collateralResponse(String(outcome.seq), r.clOrdId, r.collReason!, outcome.ok, outcome.ok ? undefined : fixText(this.rejectText(outcome)), outcome.ts / 1000));
    }
    const order = r.order!;
    if (r.kind === 'new') {
      if (outcome.ok) {
        // Found by its own events as `fresh` (an IOC order that is done at once never enters the map).
        order.orderId = outcome.orderId!;
        this.fresh = order;
        this.freshDone = false;
        this.current!.clOrdIds.push([order.venue, order.clOrdId, order.orderId]);
        this.current!.orders.push(order);
      } else {
        this.retire(order.venue, order.clOrdId, outcome.orderId ?? 0);
        this.report(order, EXEC_REJECTED, ORD_STATUS_REJECTED, 0, outcome.orderId ?? 0, order.clOrdId, undefined, 0, 0, ordRejReason(outcome.reason ?? 0), fixText(this.rejectText(outcome)));
      }
      return;
    }
    this.current!.clOrdIds.push([order.venue, r.clOrdId, order.orderId]);
    if (!outcome.ok) {
      if (r.kind === 'replace') this.retire(order.venue, r.clOrdId, order.orderId);
      const reason = outcome.reason === 12 || outcome.reason === NodeReject.UnknownOrder ? 0 : 99;
      this.emit(r.link, '9', `37=${order.orderId}\x0111=${fixText(r.clOrdId)}\x0141=${fixText(order.clOrdId)}\x01`
        + `39=${String.fromCharCode(this.currentStatus(order))}\x01434=${r.kind === 'replace' ? 2 : 1}\x01102=${reason}\x01`
        + `58=${fixText(this.rejectText(outcome))}\x01`);
    }
  }

  private rejectText(outcome: Outcome): string {
    const name = outcome.reasonName ?? rejectName(outcome.reason ?? 0);
    return outcome.text ? `${name}: ${outcome.text}` : name;
  }

  /** OrdStatus now: open (new or partly filled), or how it ended. */
  private currentStatus(o: FixOrder): number {
    return o.finalStatus ?? this.status(o);
  }

  private status(o: FixOrder): number {
    return o.cumQty === 0 ? ORD_STATUS_NEW : o.cumQty >= o.qty ? ORD_STATUS_FILLED : ORD_STATUS_PARTIAL;
  }

  /** An ExecutionReport of a venue order, written field by field into the batch's blob. */
  private report(o: FixOrder, execType: number, ordStatus: number, leaves: number, orderId = o.orderId, clOrdId = o.clOrdId,
    origClOrdId?: string, lastQty = 0, lastPx = 0, rejectReason = 0, text?: string): void {
    const l = this.listingsById.get(o.instrument)!;
    const link = o.link ??= this.linkOf(o.venue);
    if (this.ts !== this.transactTs) {
      this.transactTs = this.ts;
      this.transactTime = fixTime(this.ts / 1000);
    }
    const blob = this.outOf(link).blob;
    blob.begin(link.writer, '8', link.seq.nextOut++, this.sendingTime);
    if (orderId) blob.int(37, orderId);
    else blob.text(37, 'NONE');
    blob.text(11, clOrdId);
    if (origClOrdId !== undefined) blob.text(41, origClOrdId);
    blob.text(1, o.client);
    blob.pair(17, this.execSeq, ++this.execIndex);
    blob.char(150, execType);
    blob.char(39, ordStatus);
    blob.text(55, l.symbol);
    blob.char(54, o.side === 0 ? 0x31 : 0x32);
    blob.decimal(38, o.qty, l.baseScale);
    blob.char(40, o.ordType === 1 ? 0x31 : 0x32);
    blob.decimal(44, o.price, l.quoteScale);
    if (lastQty !== 0) {
      blob.decimal(32, lastQty, l.baseScale);
      blob.decimal(31, lastPx, l.quoteScale);
    }
    if (rejectReason !== 0) blob.int(103, rejectReason);
    if (text !== undefined) blob.text(58, text);
    blob.decimal(151, Math.max(0, leaves), l.baseScale);
    blob.decimal(14, o.cumQty, l.baseScale);
    blob.decimal(6, o.cumQty === 0 ? 0 : Math.round(o.cumNotional / o.cumQty), l.quoteScale);
    blob.text(60, this.transactTime);
    blob.end();
    this.stats.reports++;
  }

  private readonly event = (e: CoreEvent): void => {
    this.book.apply(e);
    this.marketEvent(e);
    switch (e.kind) {
      case EventKind.Accepted: {
        const o = this.orderOf(e.orderId);
        if (o) this.report(o, EXEC_NEW, ORD_STATUS_NEW, o.qty);
        return;
      }
      case EventKind.Fill: {
        this.filled(e.orderId, e.price, e.qty);
        this.filled(e.makerOrderId, e.price, e.qty);
        return;
      }
      case EventKind.Cancelled: {
        const o = this.orderOf(e.orderId);
        if (!o) return;
        const r = this.activeRequest;
        const mine = r && r.kind === 'cancel' && r.order === o;
        if (r?.kind === 'mass') r.cancelled!++;
        if (mine) this.report(o, EXEC_CANCELED, ORD_STATUS_CANCELED, 0, o.orderId, r!.clOrdId, o.clOrdId);
        else this.report(o, EXEC_CANCELED, ORD_STATUS_CANCELED, 0, o.orderId, o.clOrdId, undefined, 0, 0, 0, CANCEL_TEXT[e.reason] ?? 'cancelled');
        return this.done(o, ORD_STATUS_CANCELED);
      }
      case EventKind.Reduced: {
        const o = this.orderOf(e.orderId);
        if (!o) return;
        o.qty = o.cumQty + e.remaining;
        this.touched(o);
        return this.report(o, EXEC_RESTATED, this.status(o), o.qty - o.cumQty, o.orderId, o.clOrdId, undefined, 0, 0, 0, 'reduced by self-trade prevention');
      }
      case EventKind.Amended: {
        const o = this.orderOf(e.orderId);
        if (!o) return;
        const r = this.activeRequest;
        const previous = o.clOrdId;
        if (r && r.kind === 'replace' && r.order === o) {
          o.clOrdId = r.clOrdId;
          // The total stays what was filled plus what the core now holds open (ifRemaining made
          // sure that is the replace's OrderQty).
          o.qty = o.cumQty + e.remaining;
          o.price = e.price;
          this.retire(o.venue, previous, o.orderId);
          this.idsOf(o.venue).set(o.clOrdId, o);
        } else {
          o.qty = o.cumQty + e.remaining;
          o.price = e.price;
        }
        this.touched(o);
        return this.report(o, EXEC_REPLACED, this.status(o), o.qty - o.cumQty, o.orderId, o.clOrdId, previous);
      }
      default:
        return;
    }
  };

  private filled(orderId: number, price: number, qty: number): void {
    const o = this.orderOf(orderId);
    if (!o) return;
    o.cumQty += qty;
    o.cumNotional += price * qty;
    const status = this.status(o);
    this.report(o, EXEC_TRADE, status, o.qty - o.cumQty, o.orderId, o.clOrdId, undefined, qty, price);
    if (status === ORD_STATUS_FILLED) this.done(o);
    else this.touched(o);
  }

  private touched(o: FixOrder): void {
    if (!this.current!.orders.includes(o)) this.current!.orders.push(o);
  }

  private done(o: FixOrder, status = ORD_STATUS_FILLED): void {
    o.finalStatus = status;
    if (o === this.fresh) this.freshDone = true;
    else this.orders.delete(o.orderId);
    this.retire(o.venue, o.clOrdId, o.orderId);
    if (o.stored) this.current!.closed.push(o);
  }

  /** Registry changes: a logged-on venue that may no longer trade is logged out with the reason. */
  private venuesChanged(ts: number): void {
    const registry = this.node.pipeline.venues.registry;
    for (const link of this.links.values()) {
      const v = registry.venues.get(link.venue);
      if (v) link.setCompIds(v.targetCompId, v.senderCompId);
      const why = registry.refusal(link.venue, ts);
      if (why !== undefined && link.session?.active) {
        const session = link.session;
        // After this batch's reports (its cancels) are out.
        setImmediate(() => session.logout(`venue ${link.venue} suspended: ${why}`, true));
      }
    }
  }

  // Market data incrementals of the batch being applied: changed levels and trades per instrument.
  private readonly trades = new Map<number, string[]>();

  private marketEvent(e: CoreEvent): void {
    if (e.kind !== EventKind.Fill || this.subscriptions.size === 0) return;
    const l = this.listingsById.get(e.instrument);
    if (!l) return;
    let list = this.trades.get(e.instrument);
    if (!list) this.trades.set(e.instrument, (list = []));
    list.push(`279=0\x01269=2\x0155=${l.symbol}\x01270=${fromUnits(e.price, l.quoteScale)}\x01271=${fromUnits(e.qty, l.baseScale)}\x01`);
  }

  private publishMarketData(): void {
    const updates = this.book.flush();
    if (this.subscriptions.size === 0) {
      this.trades.clear();
      return;
    }
    const byInstrument = new Map<number, string[]>();
    for (const u of updates) {
      const l = this.listingsById.get(u.instrument)!;
      let list = byInstrument.get(u.instrument);
      if (!list) byInstrument.set(u.instrument, (list = []));
      for (const level of u.levels) {
        const action = level.count === 0 ? 2 : 1;
        list.push(`279=${action}\x01269=${level.side}\x0155=${l.symbol}\x01270=${fromUnits(level.price, l.quoteScale)}\x01${action === 2 ? '' : `271=${fromUnits(level.qty, l.baseScale)}\x01`}`);
      }
    }
    for (const [session, subs] of this.subscriptions) {
      const link = session.link;
      if (!link || !session.active) continue;
      for (const [instrument, s] of subs) {
        const entries = [...(s.book ? byInstrument.get(instrument) ?? [] : []), ...(s.trades ? this.trades.get(instrument) ?? [] : [])];
        if (entries.length === 0) continue;
        // Market data is not kept for resends: a resend gap-fills it (a fresh snapshot is the cure).
        this.emit(link, 'X', `262=${fixText(s.reqId)}\x01268=${entries.length}\x01${entries.join('')}`);
      }
    }
    this.trades.clear();
  }

  private write(batch: number): void {
    const rows = this.batches.get(batch);
    if (!rows) return;
    const store = this.store;
    const prepared = rows.rows!;
    for (const out of rows.out) store.putMessages(out.link.venue, out.blob);
    for (const [venue, state] of prepared.sequences) store.putSequence(venue, state);
    // Open orders' rows (an order done within its first batch never gets one).
    for (const row of prepared.open) store.putOrder(row);
    for (const id of prepared.closedIds) store.removeOrder(id);
    if (rows.clOrdIds.length > 0) {
      const byVenue = new Map<string, [string, number][]>();
      for (const [venue, clOrdId, orderId] of rows.clOrdIds) {
        let list = byVenue.get(venue);
        if (!list) byVenue.set(venue, (list = []));
        list.push([clOrdId, orderId]);
      }
      for (const [venue, ids] of byVenue) store.putClOrdIds(venue, batch, ids);
    }
  }

  private row(o: FixOrder): FixOrderRow {
    return {
      orderId: o.orderId, venue: o.venue, clOrdId: o.clOrdId, client: o.client, account: o.account, instrument: o.instrument, side: o.side,
      ordType: o.ordType, tif: o.tif, price: o.price, qty: o.qty, cumQty: o.cumQty, cumNotional: o.cumNotional,
    };
  }

  private durable(b: AppliedBatch): void {
    const rows = this.batches.get(b.batch);
    if (!rows) return;
    if (this.onOrderLatency) {
      // The reports are handed to the sockets below, at once: each new order's time in the node.
      const now = performance.now();
      for (const { command } of b.commands) {
        if (command.type === 'order' && command.origin?.gateway === this.id && command.origin.arrivedMs !== undefined) {
          this.onOrderLatency(Math.round(1000 * (now - command.origin.arrivedMs)));
        }
      }
    }
    this.batches.delete(b.batch);
    for (const out of rows.out) {
      // Numbers of before a sequence reset mean nothing to the session that reset them.
      if (out.epoch !== out.link.epoch) continue;
      const last = out.blob.lastSeq;
      if (last > out.link.durableOut) out.link.durableOut = last;
      out.link.session?.markReady(last);
    }
  }

  /** Venues logged on now. */
  get loggedOn(): string[] {
    return [...this.links.values()].filter((l) => l.session?.active).map((l) => l.venue);
  }
}
