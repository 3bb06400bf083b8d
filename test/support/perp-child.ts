// A node with perpetuals in its own process on a clock the parent sets (argv: dataDir, clock ms),
// for the perps crash test: it reads commands as JSON lines on stdin and prints `{"ack":id,"ok":bool}`
// once each is durable. With --state it recovers the folder and prints its perps state and balances.
import { runClockedChild } from './clocked-child.js';
import { ALICE, BOB, CAROL, INSURANCE, PERP, perpConfig } from './perps.js';

await runClockedChild(perpConfig(), (runtime) => {
  const perps = runtime.pipeline.perps;
  const ledger = runtime.ledger;
  const usd = ledger.assetIndex.get('QUOTE')!;
  return {
    funding: perps.fundingHistory(PERP),
    balances: [ALICE, CAROL, INSURANCE].map((a) => ledger.balance(a, usd).available),
    alice: perps.accountView(ALICE),
    market: perps.marketView(PERP),
    bob: perps.accountView(BOB),
    carol: perps.accountView(CAROL),
    carolBalance: ledger.balance(CAROL, usd).available,
    reports: perps.reports.map((r) => r.triggers),
  };
});
