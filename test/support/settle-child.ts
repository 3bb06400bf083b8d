// A node in its own process on a clock the parent sets (argv: dataDir, clock ms), for the
// settlement crash test: it reads commands as JSON lines on stdin and prints `{"ack":id,"ok":bool}`
// once each is durable. With --state it recovers the folder and prints its settlement state.
import { createInterface } from 'node:readline';
import { NodeRuntime } from '../../src/pipeline/runtime.js';
import type { NodeCommand } from '../../src/pipeline/commands.js';
import { testConfig } from './node-config.js';

const [dataDir, clock, mode] = process.argv.slice(2);
const runtime = await NodeRuntime.open({ dataDir, config: testConfig(), clockMs: () => Number(clock) });

if (mode === '--state') {
  const venues = runtime.pipeline.venues;
  const state = {
    batches: [...venues.settlement.batches.values()].map((b) => ({ id: b.id, state: b.state, confirmed: b.legs.map((l) => l.confirmation !== undefined) })),
    owed: venues.registry.venues.has('venue-sg') ? venues.exposure('venue-sg').owed : 0,
  };
  process.stdout.write(JSON.stringify(state) + '\n', () => process.exit(0));
} else {
  process.stdout.write(JSON.stringify({ ready: runtime.lastSequence }) + '\n');
  createInterface({ input: process.stdin }).on('line', (line) => {
    const { id, command } = JSON.parse(line) as { id: number; command: NodeCommand };
    void runtime.submit(command).then((o) => process.stdout.write(JSON.stringify({ ack: id, ok: o.ok, text: o.text }) + '\n'));
  });
}
