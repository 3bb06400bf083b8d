// The rulebook of the shared order book (SL-9), as data and as text, built from the parameters the
// node runs on: the fixed rules below (which the code reads from here too) and the live ones (the
// instruments, the fee tiers, the venue registry, the reserve fund and compensation arrangements).
// So what is published and what is enforced cannot disagree. Its version is a hash of its content.
import { createHash } from 'node:crypto';
import type { NodeRuntime } from '../pipeline/runtime.js';
import { INELIGIBILITY_TEXT } from './registry.js';
import { defaultManagementSection, perpsSection } from '../perps/disclosure.js';

/** The fixed rules the code enforces, read from here by the code and by the rulebook. */
export const RULES = {
  /** The reserve fund covers, per asset, the sum of the venues' unsettled limits (SL-17). */
  reserveCovers: 'sum-of-limits' as const,
  /** Expected settlement exposure: the peak total exposure over this many hours (SL-17). */
  expectedExposureHours: 24,
  /** A FIX Logon's SendingTime may be this far from the node's clock. */
  logonSkewSeconds: 30,
};

export interface RulebookSection { id: string; title: string; rules: string[]; parameters?: unknown }
export interface Rulebook { version: string; asOfSequence: number; sections: RulebookSection[] }

/** The rulebook as the node runs now. */
export function rulebook(node: NodeRuntime): Rulebook {
  const ledger = node.ledger;
  const venues = node.pipeline.venues;
  const registry = venues.registry;
  const reserve = venues.reserveAccount();
  const sections: RulebookSection[] = [
    {
      id: 'parties', title: 'Parties, roles and liabilities',
      rules: [
        'The platform operates the shared order book and this node; it is responsible to its own clients for every trade on the book, including when a venue fails to settle (SL-16): a venue\'s failure never reduces what a platform client holds.',
        'An affiliated overseas venue may route its clients\' orders into the book only while it is eligible: affiliated with the group, licensed, its licence unexpired, and its home jurisdiction a member of the FATF or of a FATF-style regional body whose regulation is assessed as substantially consistent with the FATF Recommendations and with IOSCO\'s crypto-asset recommendations (SL-7).',
        'A venue that stops qualifying is suspended at once: its clients\' resting orders are cancelled, its session is logged out, its orders are refused; only an operator reinstates it, and only while it qualifies.',
        'A venue answers for its clients\' obligations up to its maximum unsettled limit, and for attesting the assets its clients hold in its custody.',
      ],
      parameters: {
        ineligibility: INELIGIBILITY_TEXT,
        venues: [...registry.venues.values()].map((v) => ({
          code: v.code, legalEntity: v.legalEntity, jurisdiction: v.jurisdiction, regulator: v.regulator, licenceId: v.licenceId, licenceExpires: v.licenceExpires,
          custody: v.custody, status: v.status, unsettledLimit: v.unsettledLimit, unsettledLimitAsset: v.unsettledLimitAsset,
        })),
        jurisdictions: [...registry.jurisdictions.values()],
      },
    },
    {
      id: 'pre-funding', title: 'Pre-funding and custody',
      rules: [
        'Every order is fully pre-funded before it reaches the book, checked automatically in real time (SL-10): a sell holds its quantity; a buy holds its notional, the largest fee its tier can charge, and one quote unit per possible fill.',
        'Funds count only in a custody location that counts for the account; a venue client\'s balances sit in its venue\'s custody and its orders never draw on platform custody or on another client.',
        'A venue earmarks its clients\' assets for the book by custody attestation (idempotent by id) and releases them the same way; a release takes only available funds.',
      ],
    },
    {
      id: 'instructions', title: 'Instructions',
      rules: [
        'Orders are limit or market (with a protection price), good till cancelled, immediate or cancel, fill or kill, or post-only; self-trade prevention is chosen per order.',
        'A cancel or an amend names an open order of the same account; an amend that raises the quantity or moves the price loses time priority. A FIX replace gives the total quantity and applies only if nothing filled meanwhile.',
        'Every instruction is sequenced, journaled and acknowledged only once durable.',
      ],
      parameters: { logonSkewSeconds: RULES.logonSkewSeconds },
    },
    {
      id: 'execution', title: 'Execution',
      rules: [
        'Price-time priority per instrument; orders outside the instrument\'s price band, off its tick or lot, or outside its size limits are refused.',
        'Fees by tier, charged on each fill\'s notional; a maker rebate never exceeds the same fill\'s taker fee.',
      ],
      parameters: {
        instruments: node.config.instruments.map((l) => ({ symbol: l.symbol, base: l.base, quote: l.quote, ...l.spec })),
        feeTiers: ledger.fees.all(),
      },
    },
    {
      id: 'settlement', title: 'Settlement',
      rules: [
        'A fill between parties in different custody locations is final for both at trade time; what each custody location owes the other is recorded per asset until settled.',
        'A venue\'s unsettled exposure is what its custody owes other locations plus the worst case of its clients\' open orders (what they hold), valued at the reference prices (each instrument\'s last trade), rounded against the venue. An order that would take it past the venue\'s maximum unsettled limit is refused before the book (SL-15); when prices take it past the limit, the venue\'s new orders are refused until prices or settlement bring it back.',
        `The reserve fund, held in trust, covers in each asset the sum of the venues' limits (${RULES.reserveCovers}): several venues may fail in one stress event; a limit or a withdrawal that would leave it short is refused (SL-17). The expected settlement exposure is the peak total exposure over the last ${RULES.expectedExposureHours} hours; a reserve below it is an alert.`,
        venues.settlement.config
          ? `Settlement cycles run ${venues.settlement.config.intradayMinutes > 0 ? `every ${venues.settlement.config.intradayMinutes} minutes and ` : ''}daily at ${venues.settlement.config.dailyCutoffHkt} Hong Kong time (the daily clearing runs even when intraday cycles did not, SL-14); each nets what each pair of custody locations owes into one batch, due within ${venues.settlement.config.deadlineMinutes} minutes.`
          : 'Settlement cycles are not yet configured: obligations accumulate until they are.',
        'A batch settles by delivery versus payment (SL-11): each leg is confirmed by its custodian, and the batch settles only when every leg is confirmed, all legs together; never one leg without the other.',
      ],
      parameters: {
        reserve: { account: reserve ?? null, covers: RULES.reserveCovers, expectedExposureHours: RULES.expectedExposureHours },
        cycles: { ...(venues.settlement.config ?? { intradayMinutes: null, dailyCutoffHkt: null, deadlineMinutes: null }), inForce: venues.settlement.config !== undefined },
      },
    },
    {
      id: 'default-management', title: 'Default management',
      rules: [
        'A venue whose exposure passes its limit has its new orders refused and an alert is recorded; a venue that stops qualifying is suspended and its resting orders cancelled.',
        'A settlement batch not settled by its deadline fails: a venue whose leg is unconfirmed is in default — suspended, its resting orders cancelled — and the reserve fund covers what it failed to deliver, valued in the reserve\'s asset, into the platform\'s settlement account for the venue, as a compensation posting naming the batch, the venue and the amounts; a claim against the venue is recorded. Platform clients\' balances do not change.',
        'Compensation arrangements (an insurer\'s policy or a scheme) cover settlement assets; coverage in force below the minimum, or a lapsed policy, is an alert (SL-18).',
      ],
      parameters: {
        compensation: [...registry.compensation.values()],
        coverageMinimum: Object.fromEntries(registry.coverageMinimum),
      },
    },
  ];
  if (node.pipeline.perps.active) sections.push(perpsSection(node.pipeline.perps), defaultManagementSection(node.pipeline.perps));
  const version = createHash('sha256').update(JSON.stringify(sections)).digest('hex').slice(0, 12);
  return { version, asOfSequence: node.lastSequence, sections };
}

/** The rulebook as text (Markdown): each section's rules, then its parameters. */
export function renderRulebook(book: Rulebook): string {
  const out = [`# Rulebook of the shared order book — version ${book.version} (as of sequence ${book.asOfSequence})`, ''];
  book.sections.forEach((s, i) => {
    out.push(`## ${i + 1}. ${s.title}`, '');
    s.rules.forEach((r, j) => out.push(`${i + 1}.${j + 1} ${r}`));
    if (s.parameters !== undefined) out.push('', 'Parameters in force:', '```json', JSON.stringify(s.parameters, null, 2), '```');
    out.push('');
  });
  return out.join('\n');
}
