// The public site's answer cache (OPS-3) is keyed on exactly what an answer reads: a parameter
// name spelled another way (`%64epth`, which the answer does not read) cannot store one answer
// under another question's key, so every visitor gets the figures they asked for.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayServer } from '../src/gateway/ws/server.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { ALICE, CAROL, SPOT, perpConfig } from './support/perps.js';

let node: NodeRuntime;
let gateway: GatewayServer;
let base: string;

beforeAll(async () => {
  node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-site-cache-')), config: perpConfig() });
  for (const [account, asset, amount] of [[ALICE, 'QUOTE', 1_000_000], [CAROL, 'BASE', 1_000]] as const) {
    expect((await node.submit({ type: 'deposit', key: `d-${account}-${asset}`, account, asset, amount })).ok).toBe(true);
  }
  // Five bid levels and five ask levels.
  for (let i = 0; i < 5; i++) {
    expect((await node.submit({ type: 'order', account: ALICE, instrument: SPOT, side: 0, orderType: 0, tif: 0, price: 9_990 - i, qty: 1 })).ok).toBe(true);
    expect((await node.submit({ type: 'order', account: CAROL, instrument: SPOT, side: 1, orderType: 0, tif: 0, price: 10_010 + i, qty: 1 })).ok).toBe(true);
  }
  await node.drain();
  gateway = new GatewayServer(node, { site: {} });
  base = `http://127.0.0.1:${await gateway.listen(0)}`;
});

afterAll(async () => {
  gateway?.close();
  await node?.close();
});

const book = async (query: string) => (await (await fetch(`${base}/api/v1/markets/BASE-QUOTE/book${query}`)).json()) as { bids: unknown[]; asks: unknown[] };

describe('the site\'s answer cache', () => {
  it('[OPS-3] a plain ?depth=5 answers 5 levels a side', async () => {
    expect((await book('?depth=5')).bids).toHaveLength(5);
  });

  it('[OPS-3] a request naming %64epth beside depth=1 answers 1 level, and the next ?depth=5 still gets 5', async () => {
    // Wait out the control's cache entry (RESPONSE_CACHE_MS = 1 s).
    await new Promise((r) => setTimeout(r, 1_100));
    const poisoned = await book('?%64epth=5&depth=1');
    expect(poisoned.bids).toHaveLength(1);
    // A different client asks the ordinary question: it should see 5 levels.
    const victim = await book('?depth=5');
    expect(victim.bids, 'the cached answer of another query is served for ?depth=5').toHaveLength(5);
  });

  it('[OPS-3] a request naming only %64epth=3 gets the default depth, and the next ?depth=3 still gets 3', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    await book('?%64epth=3'); // key depth=3, answered with the default depth
    const victim = await book('?depth=3');
    expect(victim.bids, '?depth=3 must hold 3 levels').toHaveLength(3);
  });
});
