// A key's client order ids: the idempotency keys of its orders, and who is waiting on them.
import { NumberMap } from './number-map.js';

/** A client order id whose order is being sequenced (its node order id is not known yet). */
export const SEQUENCING = -1;

/**
 * A key's client order ids → node order ids (0 for a rejected order): those of orders being
 * sequenced or open, and of the last `retained` finished ones. An id is refused as a duplicate
 * while it is in here.
 */
export class ClOrdIds {
  /** Typed arrays, not a Map: nothing allocated or traced per id (there are hundreds of thousands). */
  readonly ids = new NumberMap();
  /** Cancels and amends waiting for an order still being sequenced. */
  readonly followers = new Map<number, ((orderId: number) => void)[]>();
  /** Finished orders, oldest first from `next`: client order id and node order id, in pairs (grown by doubling). */
  private finished = new Float64Array(256);
  private count = 0;
  private next = 0;

  constructor(private readonly retained: number) {}

  /**
   * Its order is done: the id stays refused until `retained` later ones are done. It is then
   * forgotten only if it still names that order (an id reused since names a newer one).
   */
  retire(clOrdId: number, orderId: number): void {
    if (this.count < 2 * this.retained) {
      if (this.count + 2 > this.finished.length) {
        const grown = new Float64Array(Math.min(2 * this.retained, 2 * this.finished.length) + 2);
        grown.set(this.finished.subarray(0, this.count));
        this.finished = grown;
      }
      this.finished[this.count++] = clOrdId;
      this.finished[this.count++] = orderId;
      return;
    }
    const oldest = this.finished[this.next];
    if (this.ids.get(oldest) === this.finished[this.next + 1]) this.ids.delete(oldest);
    this.finished[this.next] = clOrdId;
    this.finished[this.next + 1] = orderId;
    this.next = (this.next + 2) % (2 * this.retained);
  }
}
