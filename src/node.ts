// Junction's composition root: builds the node from its parts and runs it until told to stop.
// For now the node is the matching core with the demo instruments; later stages (ledger, risk,
// gateways, settlement, perps) are composed here.
import { parseArgs } from 'node:util';
import { MatchingCore } from './core/index.js';
import { DEMO_INSTRUMENTS } from './demo.js';

const ORDERS_MAX_DEFAULT = 1 << 20;
const INSTRUMENTS_MAX = 1024;

export interface NodeOptions { ordersMax: number }

export function startNode(options: NodeOptions): MatchingCore {
  const core = new MatchingCore({ ordersMax: options.ordersMax, instrumentsMax: INSTRUMENTS_MAX });
  for (const listing of DEMO_INSTRUMENTS) core.addInstrument(listing.spec);
  core.checkInvariants();
  return core;
}

function main(): void {
  const { values } = parseArgs({ options: { 'orders-max': { type: 'string', default: String(ORDERS_MAX_DEFAULT) } } });
  const ordersMax = Number(values['orders-max']);
  if (!Number.isInteger(ordersMax) || ordersMax < 1) {
    console.error(`--orders-max must be a positive integer, got ${values['orders-max']}`);
    process.exit(2);
  }
  const core = startNode({ ordersMax });
  const stats = core.stats();
  const keepAlive = setInterval(() => {}, 1 << 30);
  const stop = (signal: string) => {
    clearInterval(keepAlive);
    console.log(JSON.stringify({ event: 'stopped', signal, resting: core.stats().resting }));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // Ready only once the stop handlers are in place.
  console.log(JSON.stringify({
    event: 'ready',
    instruments: DEMO_INSTRUMENTS.map((l) => l.symbol),
    ordersMax: stats.ordersMax,
    nativeMemoryBytes: stats.memoryBytes,
  }));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) main();
