// The FIX bridge's tables in the node's LMDB environment. Sequence numbers and sent application
// messages are written either in the transaction of the batch that produced them (the gateway's
// write() hook) or, for what the session layer sends on its own (Logon, Heartbeat, Reject...), in a
// transaction of their own that the message waits for: nothing is sent before it is durable, so
// after a crash a venue is resent exactly what it received, and no sequence number is used twice.
import type { Database } from 'lmdb';
import type { LedgerStore } from '../../ledger/store.js';
import { messagesOf, type FixBlob, type RawMessage } from './codec.js';

/** A venue's sequence numbers: the next it sends us (expected), and the next we send it. */
export interface SequenceState { nextIn: number; nextOut: number }

/** A sent message read back for a resend: its type, first SendingTime and body fields. */
export type StoredMessage = RawMessage;

/** What the bridge keeps of an open venue order (rebuilt on start): its FIX identity and fills. */
export interface FixOrderRow {
  orderId: number;
  venue: string;
  clOrdId: string;
  client: string;
  account: number;
  instrument: number;
  side: number;
  ordType: number;
  tif: number;
  price: number;
  /** OrderQty: the total quantity (FIX's), not what is left. */
  qty: number;
  cumQty: number;
  /** Σ fill price × qty (quote units per whole base × base units), for AvgPx. */
  cumNotional: number;
}

/** Separators inside a stored blob (FIX values never hold control characters). */
const FIELD = '\x02';
const RECORD = '\x03';

export class FixStore {
  private readonly sequences: Database<SequenceState, string>;
  /** [venue, first seq] → the messages a batch (or one session send) sent, as they went out. */
  private readonly messages: Database<Buffer, [string, number]>;
  private readonly orders: Database<FixOrderRow, number>;
  /** [venue, first seq of its batch] → the ClOrdIDs the batch used, with their order ids. */
  private readonly clOrdIds: Database<string, [string, number]>;

  constructor(private readonly store: Pick<LedgerStore<unknown, unknown>, 'openDB'>) {
    this.sequences = store.openDB('fixSequences');
    this.messages = store.openDB('fixMessages', { encoding: 'binary' });
    this.orders = store.openDB('fixOrders', { keyEncoding: 'uint32' });
    this.clOrdIds = store.openDB('fixClOrdIds');
  }

  sequence(venue: string): SequenceState {
    return this.sequences.get(venue) ?? { nextIn: 1, nextOut: 1 };
  }

  /** Stored application messages of a venue from `from` to `to` (inclusive), in order. */
  *stored(venue: string, from: number, to: number): IterableIterator<StoredMessage> {
    // The blob holding `from` starts at or before it: the last key not above it.
    let start = from;
    for (const key of this.messages.getKeys({ start: [venue, from], end: [venue, 0], reverse: true, limit: 1 })) start = key[1];
    for (const { value } of this.messages.getRange({ start: [venue, start], end: [venue, to + 1] })) {
      for (const m of messagesOf(value)) {
        if (m.seq < from) continue;
        if (m.seq > to) return;
        yield m;
      }
    }
  }

  /** Every open venue order's row and every used (venue, ClOrdID), for a gateway starting. */
  openOrders(): FixOrderRow[] {
    return [...this.orders.getRange({})].map(({ value }) => value);
  }

  /** A venue's latest used ClOrdIDs (about `atMost`), newest first, with the order ids they named. */
  *usedClOrdIds(venue: string, atMost: number): IterableIterator<[clOrdId: string, orderId: number]> {
    let n = 0;
    for (const { value } of this.clOrdIds.getRange({ start: [venue, Number.MAX_SAFE_INTEGER], end: [venue, 0], reverse: true })) {
      const records = value.split(RECORD);
      for (let i = records.length - 1; i >= 0; i--) {
        if (records[i] === '') continue;
        const [clOrdId, orderId] = records[i].split(FIELD);
        yield [clOrdId, Number(orderId)];
      }
      n += records.length - 1;
      if (n >= atMost) return;
    }
  }

  // ---- inside a transaction (a batch's, or one of writeNow's) -----------------------------------

  putSequence(venue: string, s: SequenceState): void {
    this.sequences.put(venue, { nextIn: s.nextIn, nextOut: s.nextOut });
  }

  /** The messages of one batch (or one send) to a venue, in sequence order, as one row. */
  putMessages(venue: string, blob: FixBlob): void {
    if (blob.count === 0) return;
    this.messages.put([venue, blob.firstSeq], blob.view());
  }

  putOrder(row: FixOrderRow): void {
    this.orders.put(row.orderId, row);
  }

  removeOrder(orderId: number): void {
    this.orders.remove(orderId);
  }

  /** The ClOrdIDs one batch used for a venue (`at`: a number unique to the batch, its first seq). */
  putClOrdIds(venue: string, at: number, ids: readonly [clOrdId: string, orderId: number][]): void {
    if (ids.length === 0) return;
    let blob = '';
    for (const [clOrdId, orderId] of ids) blob += `${clOrdId}${FIELD}${orderId}${RECORD}`;
    this.clOrdIds.put([venue, at], blob);
  }

  /** A sequence reset: the venue's stored messages go (they cannot be resent under new numbers). */
  clearMessages(venue: string): void {
    for (const key of this.messages.getKeys({ start: [venue, 0], end: [venue, Number.MAX_SAFE_INTEGER] })) this.messages.remove(key);
  }

  /** Runs `write` in a transaction of its own; resolves once it is durable. */
  writeNow(write: () => void): Promise<unknown> {
    return this.sequences.transaction(write);
  }
}
