// The insurance fund's notices (PERP-8) and post-event reports (PERP-9) as messages: PerpNotice and
// PerpReport. Both are public (a report names no account); they are encoded as their batch is
// applied and go out once it is durable — on the Perp channel (market-data.ts) and to every session
// whose account holds a perpetual position (perp-accounts.ts).
import type { AccountNotice, Notice, PostEventReport } from '../../perps/liquidation.js';
import type { Perps } from '../../perps/perps.js';
import * as sbe from '../../protocol/codec.js';
import type { WireTime } from '../../protocol/time.js';

/**
 * A report's JSON at most, on the wire and in an answer to the perp-reports query: a waterfall over
 * tens of thousands of accounts lists as many positions, more than a frame should carry.
 */
export const PERP_REPORT_BODY_BYTES_MAX = 256 * 1024;
/** A PerpReport at most: its body, its triggers and its block. */
const PERP_REPORT_BYTES_MAX = PERP_REPORT_BODY_BYTES_MAX + 1024;

/** A report as published: whole, or with its lists cut to what fits, saying how long they were. */
export type PublishedReport = PostEventReport & { cut?: { liquidated: number; timeline: number } };

/** The report within PERP_REPORT_BODY_BYTES_MAX of JSON: whole when it fits, else its first positions and steps. */
export function publishedReport(r: PostEventReport): PublishedReport {
  if (Buffer.byteLength(JSON.stringify(r)) <= PERP_REPORT_BODY_BYTES_MAX) return r;
  const cut = { liquidated: r.liquidated.length, timeline: r.timeline.length };
  for (let keep = Math.max(cut.liquidated, cut.timeline); ; keep = Math.floor(keep / 2)) {
    const shorter = { ...r, liquidated: r.liquidated.slice(0, keep), timeline: r.timeline.slice(0, keep), cut };
    if (keep === 0 || Buffer.byteLength(JSON.stringify(shorter)) <= PERP_REPORT_BODY_BYTES_MAX) return shorter;
  }
}

const scratch = new DataView(new ArrayBuffer(PERP_REPORT_BYTES_MAX));

function copied(length: number): Uint8Array {
  return new Uint8Array(scratch.buffer.slice(0, length));
}

const ACCOUNT_NOTICE_KIND = { liquidated: sbe.PerpNoticeKind.Liquidated, deleveraged: sbe.PerpNoticeKind.Deleveraged, backstop: sbe.PerpNoticeKind.BackstopAssigned } as const;

/** What a liquidation did to an account's position, as a PerpNotice for that account alone (fund: the fund's level then). */
export function encodeAccountNotice(n: AccountNotice, fund: number, time: WireTime): Uint8Array {
  return copied(sbe.encodePerpNotice(scratch, 0, { seq: n.seq, asOfNs: time.ns(n.ts), kind: ACCOUNT_NOTICE_KIND[n.kind], fund, text: n.text }));
}

export function encodePerpNotice(n: Notice, time: WireTime): Uint8Array {
  const kind = n.kind === 'insurance-depleted' ? sbe.PerpNoticeKind.InsuranceDepleted : sbe.PerpNoticeKind.InsuranceRestored;
  return copied(sbe.encodePerpNotice(scratch, 0, { seq: n.seq, asOfNs: time.ns(n.ts), kind, fund: n.fund, text: n.text }));
}

export function encodePerpReport(r: PostEventReport, time: WireTime): Uint8Array {
  return copied(sbe.encodePerpReport(scratch, 0, {
    seq: r.seq, asOfNs: time.ns(r.ts), id: r.id, triggers: r.triggers.join(','), body: JSON.stringify(publishedReport(r)),
  }));
}

/** The notices, then the reports, of the batch just applied (none for most batches). */
export function encodePerpEvents(perps: Perps, time: WireTime): Uint8Array[] {
  const { notices, reports } = perps.waterfall;
  if (notices.length === 0 && reports.length === 0) return [];
  return [...notices.map((n) => encodePerpNotice(n, time)), ...reports.map((r) => encodePerpReport(r, time))];
}
