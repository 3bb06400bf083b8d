// The rejects of a workload replay, counted the same way by every benchmark that replays one: in
// all, by reason, and the new orders among them (cancels of orders filled since are expected; a
// rejected new order means the figure would time rejects rather than matching, so the run fails).
import { WorkloadOp } from '../src/core/index.js';
import { WORKLOAD_RECORD_WORDS } from '../src/core/workload.js';
import { rejectName } from '../src/risk/reasons.js';

export class RejectTally {
  total = 0;
  newOrders = 0;
  /** Count per reason code. */
  readonly byReason = new Map<number, number>();
  firstNewOrder: { op: number; reason: number } | undefined;

  constructor(private readonly ops: Int32Array) {}

  /** Counts the reject of operation `op` (an index into the workload). */
  count(op: number, reason: number): void {
    this.total++;
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    if (this.ops[op * WORKLOAD_RECORD_WORDS] !== WorkloadOp.Cancel) {
      this.newOrders++;
      this.firstNewOrder ??= { op, reason };
    }
  }

  /** Reasons by name, in code order. */
  reasons(): Record<string, number> {
    return Object.fromEntries([...this.byReason].sort((a, b) => a[0] - b[0]).map(([code, n]) => [rejectName(code), n]));
  }

  /**
   * When a new order was rejected: says so on stderr, naming the first (with `hint` for its reason),
   * and sets a failing exit code, since the figure printed does not measure `what`.
   */
  failOnRejectedNewOrders(tool: string, what: string, hint: (reasonName: string) => string = () => ''): void {
    if (!this.firstNewOrder) return;
    const { op, reason } = this.firstNewOrder;
    const r = op * WORKLOAD_RECORD_WORDS;
    const ops = this.ops;
    console.error(`${tool}: ${this.newOrders} of the workload's new orders were rejected, so the figure above does not measure ${what}; ` +
      `the first is operation ${op} [${ops[r]}, ${ops[r + 1]}, ${ops[r + 2]}, ${ops[r + 3]}, ${ops[r + 4]}]: ${rejectName(reason)}${hint(rejectName(reason))}`);
    process.exitCode = 1;
  }
}
