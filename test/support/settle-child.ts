// A node in its own process on a clock the parent sets (argv: dataDir, clock ms), for the
// settlement crash test: it reads commands as JSON lines on stdin and prints `{"ack":id,"ok":bool}`
// once each is durable. With --state it recovers the folder and prints its settlement state.
import { runClockedChild } from './clocked-child.js';
import { testConfig } from './node-config.js';

await runClockedChild(testConfig(), (runtime) => {
  const venues = runtime.pipeline.venues;
  return {
    batches: [...venues.settlement.batches.values()].map((b) => ({ id: b.id, state: b.state, confirmed: b.legs.map((l) => l.confirmation !== undefined) })),
    owed: venues.registry.venues.has('venue-sg') ? venues.exposure('venue-sg').owed : 0,
  };
});
