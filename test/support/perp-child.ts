// A node with perpetuals in its own process on a clock the parent sets (argv: dataDir, clock ms),
// for the perps crash test: it reads commands as JSON lines on stdin and prints `{"ack":id,"ok":bool}`
// once each is durable. With --state it recovers the folder and prints its perps state and balances.
import { createInterface } from 'node:readline';
import { NodeRuntime } from '../../src/pipeline/runtime.js';
import type { NodeCommand } from '../../src/pipeline/commands.js';
import { ALICE, BOB, CAROL, INSURANCE, PERP, perpConfig } from './perps.js';

const [dataDir, clock, mode] = process.argv.slice(2);
const runtime = await NodeRuntime.open({ dataDir, config: perpConfig(), clockMs: () => Number(clock) });

if (mode === '--state') {
  const perps = runtime.pipeline.perps;
  const ledger = runtime.ledger;
  const usd = ledger.assetIndex.get('QUOTE')!;
  const state = {
    funding: perps.fundingHistory(PERP),
    balances: [ALICE, CAROL, INSURANCE].map((a) => ledger.balance(a, usd).available),
    alice: perps.accountView(ALICE),
    market: perps.marketView(PERP),
    bob: perps.accountView(BOB),
    carol: perps.accountView(CAROL),
    carolBalance: ledger.balance(CAROL, usd).available,
    reports: perps.reports.map((r) => r.triggers),
  };
  process.stdout.write(JSON.stringify(state) + '\n', () => process.exit(0));
} else {
  process.stdout.write(JSON.stringify({ ready: runtime.lastSequence }) + '\n');
  createInterface({ input: process.stdin }).on('line', (line) => {
    const { id, command } = JSON.parse(line) as { id: number; command: NodeCommand };
    void runtime.submit(command).then((o) => process.stdout.write(JSON.stringify({ ack: id, ok: o.ok, text: o.text }) + '\n'));
  });
}
