// What the node's state records that an operator should hear of at once, logged once its batch is
// durable: every change in the venue registry (a venue suspended, its exposure past its limit, the
// reserve below the expected settlement exposure, a settlement failed, compensation paid ...), the
// insurance fund's depletion and restoration, and each liquidation that needed more than the book.
// Read only: the listener looks at what the batch left in the state and changes nothing.
import type { NodeRuntime } from '../pipeline/runtime.js';
import type { VenueEvent } from '../venues/registry.js';
import type { Log } from './log.js';

/** Venue events logged as warnings; the others (added, updated, restored, settled ...) as info. */
const VENUE_WARNINGS: ReadonlySet<VenueEvent['event']> = new Set<VenueEvent['event']>([
  'suspended', 'limit-breached', 'reserve-below-expected', 'compensation-short', 'settlement-failed', 'compensation-paid',
]);

const NONE: readonly never[] = [];

/** The entries after sequence `seq` (at the end of a list in sequence order), found from its end. */
function since<T extends { seq: number }>(list: readonly T[], seq: number): readonly T[] {
  let i = list.length;
  while (i > 0 && list[i - 1].seq > seq) i--;
  return i === list.length ? NONE : list.slice(i);
}

/** Logs the notable events of each durable batch from now on. Attach while the node is idle; returns the detach. */
export function logNotableEvents(node: NodeRuntime, log: Log): () => void {
  const { venues, perps } = node.pipeline;
  // The registry's events are only ever appended (after recovery); the perps' notices and reports
  // are trimmed to the last few, so they are followed by sequence number.
  let venueEventsSeen = venues.registry.events.length;
  let seqSeen = node.lastSequence;
  return node.attach({
    durable: (b) => {
      const events = venues.registry.events;
      for (; venueEventsSeen < events.length; venueEventsSeen++) {
        const e = events[venueEventsSeen];
        const fields = { event: `venue.${e.event}`, venue: e.venue, operator: e.operator, seq: e.seq, detail: e.detail };
        const msg = e.venue === '*' ? `venues: ${e.event}` : `venue ${e.venue}: ${e.event}`;
        if (VENUE_WARNINGS.has(e.event)) log.warn(fields, msg);
        else log.info(fields, msg);
      }
      for (const n of since(perps.notices, seqSeen)) {
        const fields = { event: `insurance.${n.kind === 'insurance-depleted' ? 'depleted' : 'restored'}`, fund: n.fund, seq: n.seq };
        if (n.kind === 'insurance-depleted') log.error(fields, n.text);
        else log.info(fields, n.text);
      }
      for (const r of since(perps.reports, seqSeen)) {
        log.warn({ event: 'liquidation', report: r.id, triggers: r.triggers, fundBefore: r.fundBefore, fundAfter: r.fundAfter, seq: r.seq }, r.text);
      }
      const commands = b.commands;
      if (commands.length > 0) seqSeen = commands[commands.length - 1].seq;
    },
  });
}
