// Settlement cycles and delivery versus payment (SL-11, SL-14), part of the node's deterministic
// state. A cycle — intraday every N minutes, and the daily cut-off (HKT) whether or not intraday
// cycles ran — nets what each pair of custody locations owes the other, per asset, into one
// settlement batch with a leg for each direction that is owed. Each leg is confirmed by its
// custodian (an operator command naming the confirmation). The batch settles only when every leg
// is confirmed, in the one command that confirms the last: never one leg without the other, also
// across a crash between the confirmations (each is journaled). A batch not settled by its deadline
// fails: the venue whose leg is unconfirmed is in default (suspended, its orders cancelled) and a
// claim against it is recorded.

/** When cycles run (operator-set; absent, no cycle runs and obligations accumulate). */
export interface SettlementConfig {
  /** Minutes between intraday cycles (0: none); the daily cut-off runs regardless. */
  intradayMinutes: number;
  /** The daily cut-off, Hong Kong time (UTC+8), HH:MM. */
  dailyCutoffHkt: string;
  /** Minutes a batch has to settle after its cycle. */
  deadlineMinutes: number;
}

export interface SettlementLeg {
  /** The custody location that delivers, and the one that receives. */
  from: string;
  to: string;
  asset: string;
  amount: number;
  /** The custodian's confirmation: its reference, and the operator key and sequencer time that recorded it. */
  confirmation?: { reference: string; operator: number; ts: number };
}

export interface SettlementBatch {
  id: string;
  cycle: 'intraday' | 'daily';
  /** Sequencer time of the cycle and the deadline, µs. */
  ts: number;
  deadline: number;
  /** The two custody locations it settles between. */
  locations: [string, string];
  legs: SettlementLeg[];
  state: 'pending' | 'settled' | 'failed';
}

/** A claim against a defaulting venue: what it failed to deliver, and what the reserve paid for it. */
export interface Claim { batch: string; venue: string; asset: string; amount: number; ts: number; reservePaid: number }

export interface SettlementState {
  config?: SettlementConfig;
  lastCycle: number;
  lastDaily: number;
  batches: SettlementBatch[];
  claims: Claim[];
}

const MINUTE_US = 60_000_000;
/** Settled and failed batches kept (for statements), the latest; older ones are dropped. */
const FINISHED_KEPT = 10_000;
const DAY_US = 24 * 60 * MINUTE_US;
/** Hong Kong is UTC+8 all year. */
const HKT_OFFSET_US = 8 * 60 * MINUTE_US;

/** The first daily cut-off strictly after `ts` (µs). */
export function nextDailyCutoff(cutoffHkt: string, ts: number): number {
  const [h, m] = cutoffHkt.split(':').map(Number);
  const offset = (h * 60 + m) * MINUTE_US - HKT_OFFSET_US;
  const day = Math.floor((ts - offset) / DAY_US);
  return (day + 1) * DAY_US + offset;
}

/** What the settlement needs of the rest of the venue state. */
export interface SettlementHost {
  /** Takes every obligation (from|to|asset → amount), leaving none. */
  takeDues(): Map<string, number>;
  /** A location's counted obligations change (exposure follows). */
  adjustOwed(location: string, asset: string, delta: number): void;
  /** The venue whose custody a location is, if any. */
  venueOf(location: string): string | undefined;
  /** Puts a venue in default: suspended with the reason, its orders cancelled. */
  defaultVenue(venue: string, reason: string): void;
  record(venue: string, event: string, detail: string): void;
  /** The reserve fund covers what a defaulting venue failed to deliver; returns what it paid. */
  compensate(venue: string, batch: string, asset: string, amount: number): number;
  /** Posts a settled leg in the ledger (every leg of a batch in the one command that settles it). */
  settled(from: string, to: string, asset: string, amount: number): void;
}

export class Settlement {
  config: SettlementConfig | undefined;
  lastCycle = 0;
  lastDaily = 0;
  readonly batches = new Map<string, SettlementBatch>();
  /** Pending batches (what deadlines and the clock look at), and finished ones oldest first. */
  private readonly pending = new Set<SettlementBatch>();
  private readonly finished: string[] = [];
  readonly claims: Claim[] = [];

  constructor(private readonly host: SettlementHost) {}

  /** When the next cycle is due (µs), if cycles are configured. */
  nextCycle(): number | undefined {
    const c = this.config;
    if (!c) return undefined;
    const daily = nextDailyCutoff(c.dailyCutoffHkt, this.lastDaily);
    if (c.intradayMinutes <= 0) return daily;
    const every = c.intradayMinutes * MINUTE_US;
    return Math.min(daily, (Math.floor(this.lastCycle / every) + 1) * every);
  }

  /** The earliest deadline of a pending batch. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const b of this.pending) if (next === undefined || b.deadline < next) next = b.deadline;
    return next;
  }

  /** On the sequencer's clock: runs what is due (a cycle, failed deadlines). */
  tick(seq: number, ts: number): void {
    for (const b of [...this.pending]) if (ts >= b.deadline) this.fail(b, ts, 'the deadline passed');
    const due = this.nextCycle();
    if (due === undefined || ts < due) return;
    const daily = ts >= nextDailyCutoff(this.config!.dailyCutoffHkt, this.lastDaily);
    this.lastCycle = ts;
    if (daily) this.lastDaily = ts;
    this.cycle(seq, ts, daily ? 'daily' : 'intraday');
  }

  /** Nets every pair of locations' obligations into a batch (one per pair with anything owed). */
  cycle(seq: number, ts: number, kind: 'intraday' | 'daily'): SettlementBatch[] {
    const dues = this.host.takeDues();
    const pairs = new Map<string, Map<string, number>>(); // "x|y" (x < y) → asset → net x owes y
    for (const [key, amount] of dues) {
      const [from, to, asset] = key.split('|');
      // The gross obligation leaves the dues; the net is counted in the batch below.
      this.host.adjustOwed(from, asset, -amount);
      const [x, y] = from < to ? [from, to] : [to, from];
      let nets = pairs.get(`${x}|${y}`);
      if (!nets) pairs.set(`${x}|${y}`, (nets = new Map()));
      nets.set(asset, (nets.get(asset) ?? 0) + (from === x ? amount : -amount));
    }
    const made: SettlementBatch[] = [];
    // Code-point order (not locale collation): the same on every machine that replays the journal.
    const byCode = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    for (const [pair, nets] of [...pairs].sort(([a], [b]) => byCode(a, b))) {
      const [x, y] = pair.split('|');
      const legs: SettlementLeg[] = [];
      for (const [asset, net] of [...nets].sort(([a], [b]) => byCode(a, b))) {
        if (net === 0) continue;
        const leg = net > 0 ? { from: x, to: y, asset, amount: net } : { from: y, to: x, asset, amount: -net };
        this.host.adjustOwed(leg.from, asset, leg.amount);
        legs.push(leg);
      }
      if (legs.length === 0) continue;
      const batch: SettlementBatch = {
        id: `S${seq}-${made.length + 1}`, cycle: kind, ts, deadline: ts + this.config!.deadlineMinutes * MINUTE_US,
        locations: [x, y], legs, state: 'pending',
      };
      this.batches.set(batch.id, batch);
      this.pending.add(batch);
      made.push(batch);
      this.host.record(this.host.venueOf(x) ?? this.host.venueOf(y) ?? '*', 'settlement-batch',
        `${batch.id} (${kind}) between ${x} and ${y}: ${legs.map((l) => `${l.from} delivers ${l.amount} ${l.asset}`).join('; ')}`);
    }
    return made;
  }

  /**
   * A custodian confirms a leg. Settles the batch when every leg is confirmed — all legs together,
   * in this one command; undefined when done, else why not.
   */
  confirm(id: string, leg: number, reference: string, operator: number, ts: number): string | undefined {
    const b = this.batches.get(id);
    if (!b) return `no settlement batch ${id}`;
    if (b.state !== 'pending') return `batch ${id} is ${b.state}`;
    if (ts >= b.deadline) return `batch ${id} is past its deadline: it fails`;
    const l = b.legs[leg];
    if (!l) return `batch ${id} has legs 0 to ${b.legs.length - 1}`;
    if (l.confirmation) return `leg ${leg} of ${id} is confirmed already (${l.confirmation.reference})`;
    l.confirmation = { reference, operator, ts };
    this.host.record('*', 'settlement-confirmed', `${id} leg ${leg} (${l.from} delivers ${l.amount} ${l.asset}): ${reference}`);
    if (b.legs.every((x) => x.confirmation)) {
      b.state = 'settled';
      this.finish(b);
      for (const x of b.legs) {
        this.host.adjustOwed(x.from, x.asset, -x.amount);
        this.host.settled(x.from, x.to, x.asset, x.amount);
      }
      this.host.record(this.host.venueOf(b.locations[0]) ?? this.host.venueOf(b.locations[1]) ?? '*', 'settlement-settled',
        `${id}: every leg confirmed; delivered versus payment together`);
    }
    return undefined;
  }

  /** Fails a pending batch (its deadline passed, or an operator says so): its defaulting venues. */
  fail(b: SettlementBatch, ts: number, why: string): void {
    b.state = 'failed';
    this.finish(b);
    // Nothing of a failed batch moved, and its obligations are closed by default management: a
    // defaulting venue's unconfirmed delivery becomes a claim against it (the reserve covers it);
    // what was owed to it is withheld against that claim; what the platform left unconfirmed is
    // the platform's to make good. None of it counts as unsettled exposure any more.
    for (const l of b.legs) this.host.adjustOwed(l.from, l.asset, -l.amount);
    for (const l of b.legs) {
      if (l.confirmation) continue;
      const venue = this.host.venueOf(l.from);
      if (venue === undefined) continue; // the platform's own legs are its own to make good
      this.host.defaultVenue(venue, `SettlementDefault: batch ${b.id} failed (${why})`);
      const reservePaid = this.host.compensate(venue, b.id, l.asset, l.amount);
      this.claims.push({ batch: b.id, venue, asset: l.asset, amount: l.amount, ts, reservePaid });
    }
    this.host.record(this.host.venueOf(b.locations[0]) ?? this.host.venueOf(b.locations[1]) ?? '*', 'settlement-failed', `${b.id}: ${why}`);
  }

  /** A batch is done: out of the pending index; past FINISHED_KEPT the oldest finished are dropped. */
  private finish(b: SettlementBatch): void {
    this.pending.delete(b);
    this.finished.push(b.id);
    while (this.finished.length > FINISHED_KEPT) this.batches.delete(this.finished.shift()!);
  }

  state(): SettlementState {
    return {
      config: this.config && { ...this.config }, lastCycle: this.lastCycle, lastDaily: this.lastDaily,
      batches: [...this.batches.values()].map((b) => ({ ...b, locations: [...b.locations] as [string, string], legs: b.legs.map((l) => ({ ...l, confirmation: l.confirmation && { ...l.confirmation } })) })),
      claims: this.claims.map((c) => ({ ...c })),
    };
  }

  restoreState(s: SettlementState | undefined): void {
    if (!s) return;
    this.config = s.config && { ...s.config };
    this.lastCycle = s.lastCycle;
    this.lastDaily = s.lastDaily;
    this.batches.clear();
    this.pending.clear();
    this.finished.length = 0;
    for (const b of s.batches) {
      const batch = { ...b, legs: b.legs.map((l) => ({ ...l })) };
      this.batches.set(b.id, batch);
      if (batch.state === 'pending') this.pending.add(batch);
      else this.finished.push(batch.id);
    }
    this.claims.length = 0;
    this.claims.push(...s.claims);
  }
}
