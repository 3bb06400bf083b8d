// Junction's composition root: builds the node from its parts and runs it until told to stop.
// `npm start -- --data DIR --port N` opens (or creates, with the demo configuration, funded demo
// accounts and their API keys in DIR/demo-keys.json) the node in DIR, recovering its state from
// LMDB, and serves the market-maker protocol on ws://127.0.0.1:N/ws until SIGINT or SIGTERM.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEMO_CONFIG, DEMO_FUNDING } from './demo.js';
import { newApiKeyPair } from './gateway/ws/auth.js';
import { GatewayServer } from './gateway/ws/server.js';
import { NodeRuntime } from './pipeline/runtime.js';

export const DATA_DIR_DEFAULT = '.data';
export const PORT_DEFAULT = 8800;
/** Demo API keys: key id → account (the market maker, the client). */
const DEMO_KEYS: [keyId: number, account: number][] = [[1, 10], [2, 11]];

/** Creates the demo accounts' API keys once, writing the private halves to DIR/demo-keys.json. */
async function demoKeys(runtime: NodeRuntime, dataDir: string): Promise<void> {
  const file = join(dataDir, 'demo-keys.json');
  if (existsSync(file)) return;
  const keys = [];
  for (const [keyId, account] of DEMO_KEYS) {
    const pair = newApiKeyPair();
    await runtime.store.putApiKey({ keyId, account, publicKey: pair.publicKey, permission: 'trade' });
    keys.push({ keyId, account, privateKeyPem: pair.privateKeyPem });
  }
  writeFileSync(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
}

export async function startNode(dataDir: string): Promise<NodeRuntime> {
  const runtime = await NodeRuntime.open({ dataDir, config: DEMO_CONFIG });
  if (runtime.lastSequence === 0) {
    await Promise.all(DEMO_FUNDING.map((f) => runtime.submit({ type: 'deposit', key: `demo-${f.account}-${f.asset}`, ...f })));
  }
  await demoKeys(runtime, dataDir);
  return runtime;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string', default: DATA_DIR_DEFAULT }, port: { type: 'string', default: String(PORT_DEFAULT) } } });
  const dataDir = values.data!;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, got ${values.port}`);
    process.exit(2);
  }
  let runtime: NodeRuntime;
  let gateway: GatewayServer;
  let listening: number;
  try {
    runtime = await startNode(dataDir);
    gateway = new GatewayServer(runtime);
    listening = await gateway.listen(port);
  } catch (e) {
    console.error(`cannot start the node on ${dataDir}: ${(e as Error).message}`);
    process.exit(2);
  }
  const keepAlive = setInterval(() => {}, 1 << 30);
  const stop = async (signal: string) => {
    clearInterval(keepAlive);
    gateway.close();
    await runtime.close();
    console.log(JSON.stringify({ event: 'stopped', signal, lastSequence: runtime.lastSequence }));
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  // Ready only once recovery is done and the stop handlers are in place.
  console.log(JSON.stringify({
    event: 'ready',
    data: dataDir,
    url: `ws://127.0.0.1:${listening}/ws`,
    keys: join(dataDir, 'demo-keys.json'),
    instruments: runtime.config.instruments.map((l) => l.symbol),
    lastSequence: runtime.lastSequence,
    openOrders: runtime.pipeline.orders.size,
  }));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) void main();
