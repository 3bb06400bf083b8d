// A node under test in its own process, for the crash test. It reads commands as JSON lines on
// stdin, submits each, and prints `{"ack":id,"seq":n,"ok":bool}` once the outcome is durable.
// With --check it only recovers the data folder and prints the journal and the ledger totals.
import { createInterface } from 'node:readline';
import { NodeRuntime } from '../../src/pipeline/runtime.js';
import { decodeJournal } from '../../src/pipeline/journal.js';
import type { NodeCommand } from '../../src/pipeline/commands.js';
import { testConfig } from './node-config.js';

const [dataDir, mode] = process.argv.slice(2);
const runtime = await NodeRuntime.open({ dataDir, config: testConfig(), snapshotEveryBatches: 7 });

if (mode === '--check') {
  const journal: [number, NodeCommand][] = [];
  for (const entry of runtime.store.journalAfter(0)) {
    for (const { seq, command } of decodeJournal(entry.journal)) journal.push([seq, command]);
  }
  const inflow = runtime.ledger.assets.map((_, i) => runtime.ledger.inflowOf(i));
  const fills = [...runtime.store.allPostings()].filter((p) => p.cause === 5).length;
  // A large report outgrows the pipe's buffer: exit only once it is written.
  process.stdout.write(JSON.stringify({ lastSequence: runtime.lastSequence, inflow, fills, journal, openOrders: runtime.pipeline.orders.size }) + '\n', () => process.exit(0));
}

else {
  process.stdout.write(JSON.stringify({ ready: runtime.lastSequence }) + '\n');
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const { id, command } = JSON.parse(line) as { id: number; command: NodeCommand };
    void runtime.submit(command).then((o) => {
      process.stdout.write(JSON.stringify({ ack: id, seq: o.seq, ok: o.ok, orderId: o.orderId }) + '\n');
    });
  });
}
