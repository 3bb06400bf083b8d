// Each account's own perpetual figures, in real time (PERP-7): a PerpAccountUpdate and one
// PerpPositionUpdate per position, only ever to the sessions of that account (trade and read keys)
// whose client decodes them (its Logon says schema version 2 or later: a version-1 decoder would
// refuse the frame that carried them).
// A session gets them when it logs on, then after every durable batch that changed them: the batch
// touched the account (a fill, an order, funding, collateral), moved the mark of a product it
// holds, or changed a position's ADL rank (PERP-9: others' positions changed). At most one update
// per account per batch, whatever the batch held.
//
// The figures are taken when the batch is applied (the state just after it, which later batches
// may already have changed by the time it is durable) and sent once it is durable: nothing goes out
// that a crash could undo, and every session sees them in batch order. A session that logs on while
// batches are in flight gets its first figures with the next batch it would see, or as soon as the
// node is idle, so they are never older than what it is sent after them.
//
// The insurance fund's notices and the post-event reports (PERP-8, PERP-9) go the same way to every
// such session whose account holds a position, or held one at its last figures (a position the
// batch closed: liquidated or deleveraged), right after that batch's figures; they are public too
// (market-data.ts publishes them on the Perp channel).
import type { AccountView } from '../../perps/perps.js';
import type { AppliedBatch, NodeRuntime } from '../../pipeline/runtime.js';
import * as sbe from '../../protocol/codec.js';
import { WireTime } from '../../protocol/time.js';
import type { Session } from './connection.js';
import type { Outbox } from './outbox.js';
import { encodeAccountNotice, encodePerpEvents } from './perp-events.js';
import { PUBLIC } from './policy.js';

/** What one batch changed for one account: its figures, and positions closed since the last update. */
interface Figures { view: AccountView; closed: number[] }

/**
 * An update waiting for its batch to be durable: the figures of the accounts it changed (for every
 * session of theirs), and of those only sessions waiting for their first figures need (for those).
 */
interface Pending {
  asOfUs: number; figures: Map<number, Figures>; firstOnly: Map<number, Session[]>;
  /** The batch's notices and reports, and the accounts that hold (or held) a position, which hear them. */
  events?: { messages: Uint8Array[]; holders: number[] };
  /** What the batch's waterfalls did to accounts with sessions here, a PerpNotice for each, to that account alone. */
  own?: Map<number, Uint8Array[]>;
}

/** The schema version PerpAccountUpdate and PerpPositionUpdate came with. */
const FIGURES_SINCE_VERSION = 2;

/** int64 on the wire: a figure past 2^53 (none should be) is sent as the largest the wire carries. */
const wire = (x: number) => (Number.isSafeInteger(x) ? x : x > 0 ? Number.MAX_SAFE_INTEGER : -Number.MAX_SAFE_INTEGER);

export class PerpAccounts {
  /** Sessions that receive figures, by account. */
  private readonly sessions = new Map<number, Set<Session>>();
  /** Per account with sessions: the instruments its last update listed as open, with each position's ADL rank. */
  private readonly reported = new Map<number, Map<number, number>>();
  /** Sessions logged on while batches were in flight, waiting for their first figures. */
  private readonly due = new Set<Session>();
  private readonly pending = new Map<number, Pending>();
  private readonly asset: { code: string; scale: number };
  private readonly time = new WireTime();
  /** The sequencer time of the last batch applied (until one is: when this gateway started). */
  private lastTsUs = Date.now() * 1000;

  constructor(private readonly node: NodeRuntime, private readonly outbox: Outbox) {
    const ledger = node.ledger;
    const settlement = node.config.perps?.settlementAsset;
    const asset = settlement === undefined ? undefined : ledger.assets[ledger.assetIndex.get(settlement)!];
    this.asset = { code: asset?.code ?? '', scale: asset?.scale ?? 0 };
  }

  private get active(): boolean { return this.node.pipeline.perps.active; }

  /** A session logged on: its account's figures now if the node is idle (all it holds is durable), else with the next batch. */
  joined(session: Session): void {
    if (!this.active || (session.permission !== 'trade' && session.permission !== 'read') || session.schemaVersion < FIGURES_SINCE_VERSION) return;
    let set = this.sessions.get(session.account);
    if (!set) this.sessions.set(session.account, (set = new Set()));
    set.add(session);
    if (!this.node.idle) return void this.due.add(session);
    this.send([session], this.lastTsUs, this.figuresOf(session.account, false));
  }

  left(session: Session): void {
    this.due.delete(session);
    const set = this.sessions.get(session.account);
    if (!set?.delete(session) || set.size > 0) return;
    this.sessions.delete(session.account);
    this.reported.delete(session.account);
  }

  /** A batch was applied: the figures of every account with sessions here that it changed, as they stand now. */
  applied(b: AppliedBatch): void {
    if (!this.active || b.commands.length === 0) return;
    this.lastTsUs = b.commands[b.commands.length - 1].ts;
    if (this.sessions.size === 0) return;
    const perps = this.node.pipeline.perps;
    const changed = new Set<number>();
    for (const account of this.sessions.keys()) {
      if (perps.touched.has(account)) {
        changed.add(account);
        continue;
      }
      const positions = perps.accounts.get(account)?.positions;
      if (!positions) continue;
      for (const instrument of perps.markChanged) {
        if (positions.has(instrument)) {
          changed.add(account);
          break;
        }
      }
      // Others' positions changed (the batch touched some account): its ranks may have moved.
      if (changed.has(account) || perps.touched.size === 0) continue;
      const ranks = this.reported.get(account);
      for (const instrument of positions.keys()) {
        if (ranks?.get(instrument) !== perps.adlRanks(instrument).get(account)) {
          changed.add(account);
          break;
        }
      }
    }
    const firstOnly = new Map<number, Session[]>();
    for (const session of this.due) if (!changed.has(session.account)) firstOnly.set(session.account, [...(firstOnly.get(session.account) ?? []), session]);
    this.due.clear();
    // Who hears the batch's notices and reports: taken before the figures below update what each
    // account was last told it held.
    const messages = encodePerpEvents(perps, this.time);
    const events = messages.length === 0 ? undefined : {
      messages, holders: [...this.sessions.keys()].filter((a) => (perps.accounts.get(a)?.positions.size ?? 0) > 0 || (this.reported.get(a)?.size ?? 0) > 0),
    };
    // What a liquidation did to an account's position, told to that account alone (PERP-9, PERP-10).
    let own: Map<number, Uint8Array[]> | undefined;
    const last = b.commands[b.commands.length - 1];
    for (const n of perps.waterfall.noticesFor((a) => this.sessions.has(a), last.seq, last.ts)) {
      own ??= new Map();
      own.set(n.account, [...(own.get(n.account) ?? []), encodeAccountNotice(n, perps.fundLevel(), this.time)]);
    }
    if (changed.size === 0 && firstOnly.size === 0 && !events && !own) return;
    const figures = new Map<number, Figures>();
    for (const account of changed) figures.set(account, this.figuresOf(account, true));
    for (const account of firstOnly.keys()) figures.set(account, this.figuresOf(account, false));
    this.pending.set(b.batch, { asOfUs: this.lastTsUs, figures, firstOnly, events, ...(own ? { own } : {}) });
  }

  /** A batch is durable: its figures go to every session of their accounts (first figures only to the sessions waiting for them). */
  durable(b: AppliedBatch): void {
    const p = this.pending.get(b.batch);
    if (p) {
      this.pending.delete(b.batch);
      for (const [account, figures] of p.figures) {
        const set = this.sessions.get(account);
        if (!set) continue;
        const first = p.firstOnly.get(account);
        this.send(first ? first.filter((s) => set.has(s)) : [...set], p.asOfUs, figures);
      }
      for (const account of p.events?.holders ?? []) {
        for (const session of this.sessions.get(account) ?? []) {
          for (const m of p.events!.messages) this.outbox.sendEncodedTo(session, m, m.byteLength, PUBLIC);
        }
      }
      for (const [account, messages] of p.own ?? []) {
        for (const session of this.sessions.get(account) ?? []) {
          for (const m of messages) this.outbox.sendEncodedTo(session, m, m.byteLength, { audience: 'account', account });
        }
      }
    }
    // Sessions that logged on while this batch was in flight: if it was the last, the state is durable now.
    if (this.due.size > 0 && this.node.idle) {
      for (const session of this.due) this.send([session], this.lastTsUs, this.figuresOf(session.account, false));
      this.due.clear();
    }
  }

  /**
   * The account's figures now. An update (`update`) also lists, flat, the positions its last update
   * listed that have closed since; a session's first figures list only what is open.
   */
  private figuresOf(account: number, update: boolean): Figures {
    const view = this.node.pipeline.perps.accountView(account);
    const open = new Map(view.positions.map((p) => [p.instrument, p.adlRank]));
    const before = this.reported.get(account);
    const closed = update && before ? [...before.keys()].filter((i) => !open.has(i)) : [];
    if (update || !before) this.reported.set(account, open);
    return { view, closed };
  }

  private send(sessions: Session[], asOfUs: number, { view, closed }: Figures): void {
    const asOfNs = this.time.ns(asOfUs);
    const perps = this.node.pipeline.perps;
    const positions: sbe.PerpPositionUpdate[] = view.positions.map((p) => ({
      account: view.account, instrument: p.instrument, size: wire(p.size), entryPrice: wire(p.entryPrice), mark: wire(p.mark),
      notional: wire(p.notional), unrealizedPnl: wire(p.unrealizedPnl), realizedPnl: wire(p.realizedPnl), funding: wire(p.funding),
      initialMargin: wire(p.initialMargin), maintenanceMargin: wire(p.maintenanceMargin), liquidationPrice: wire(p.liquidationPrice), adlRank: p.adlRank,
    }));
    // A position closed since the last update: flat, at the mark.
    for (const instrument of closed) {
      positions.push({
        account: view.account, instrument, size: 0, entryPrice: 0, mark: perps.products.get(instrument)?.mark ?? 0, notional: 0, unrealizedPnl: 0,
        realizedPnl: 0, funding: 0, initialMargin: 0, maintenanceMargin: 0, liquidationPrice: 0, adlRank: 0,
      });
    }
    const release = { audience: 'account', account: view.account } as const;
    for (const session of sessions) {
      this.outbox.sendTo(session, (v) => sbe.encodePerpAccountUpdate(v, 0, {
        account: view.account, asOfNs, asset: this.asset.code, scale: this.asset.scale, positions: positions.length,
        equity: wire(view.equity), collateral: wire(view.collateral), unrealizedPnl: wire(view.unrealizedPnl), owed: wire(view.owed),
        initialMargin: wire(view.initialMargin), maintenanceMargin: wire(view.maintenanceMargin), available: wire(view.available),
        marginRatioBps: wire(view.marginRatioBps),
      }), release);
      for (const p of positions) this.outbox.sendTo(session, (v) => sbe.encodePerpPositionUpdate(v, 0, p), release);
    }
  }
}
