// Junction's composition root: builds the node from its parts and runs it until told to stop.
// `npm start -- --data DIR` opens (or creates, with the demo configuration) the node in DIR,
// recovering its state from LMDB, and serves until SIGINT or SIGTERM.
import { parseArgs } from 'node:util';
import { DEMO_CONFIG, DEMO_FUNDING } from './demo.js';
import { NodeRuntime } from './pipeline/runtime.js';

export const DATA_DIR_DEFAULT = '.data';

export async function startNode(dataDir: string): Promise<NodeRuntime> {
  const runtime = await NodeRuntime.open({ dataDir, config: DEMO_CONFIG });
  if (runtime.lastSequence === 0) {
    await Promise.all(DEMO_FUNDING.map((f) => runtime.submit({ type: 'deposit', key: `demo-${f.account}-${f.asset}`, ...f })));
  }
  return runtime;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string', default: DATA_DIR_DEFAULT } } });
  const dataDir = values.data!;
  let runtime: NodeRuntime;
  try {
    runtime = await startNode(dataDir);
  } catch (e) {
    console.error(`cannot start the node on ${dataDir}: ${(e as Error).message}`);
    process.exit(2);
  }
  const keepAlive = setInterval(() => {}, 1 << 30);
  const stop = async (signal: string) => {
    clearInterval(keepAlive);
    await runtime.close();
    console.log(JSON.stringify({ event: 'stopped', signal, lastSequence: runtime.lastSequence }));
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  // Ready only once recovery is done and the stop handlers are in place.
  console.log(JSON.stringify({
    event: 'ready',
    data: dataDir,
    instruments: runtime.config.instruments.map((l) => l.symbol),
    lastSequence: runtime.lastSequence,
    openOrders: runtime.pipeline.orders.size,
  }));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) void main();
