// The one registry of reasons, for people: every RejectReason (1-99 the matching core, 100-199
// the node's checks, 200-299 the session) and CancelReason (300-399) has a name and a sentence,
// generated from the SBE schema (junction-sbe.xml). The ranges do not overlap, so one number
// always names one reason, whichever message carries it.
import { CancelReasonNames, CancelReasonText, RejectReasonNames, RejectReasonText } from './codec.js';

/** The reason's name (e.g. "InsufficientFunds"), or "reason N" for a code this build does not know. */
export function reasonName(code: number): string {
  return RejectReasonNames[code] ?? CancelReasonNames[code] ?? `reason ${code}`;
}

/** The reason's sentence (e.g. "the available balance does not cover what the order must hold"). */
export function reasonText(code: number): string {
  return RejectReasonText[code] ?? CancelReasonText[code] ?? 'not a reason this build knows';
}

/** "InsufficientFunds (105): the available balance does not cover what the order must hold". */
export function describeReason(code: number): string {
  return `${reasonName(code)} (${code}): ${reasonText(code)}`;
}
