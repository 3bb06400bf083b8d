// Review: the public site's answer cache is keyed on the query string as URLSearchParams decodes
// it, while the answer is computed from uWS's getQuery(name), which matches the raw (undecoded)
// parameter name. A request whose query names `%64epth=500&depth=1` is cached under depth=500
// but answered with depth=1: every later plain `?depth=500` request gets the 1-level book (wrong
// published figures) until the sequence moves or the entry ages (1 s) — an attacker repeats it.
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
  node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-review-cache-')), config: perpConfig() });
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

describe('site response cache', () => {
  it('a plain ?depth=5 answers 5 levels a side (control)', async () => {
    expect((await book('?depth=5')).bids).toHaveLength(5);
  });

  it('an encoded parameter name poisons the cache entry other clients read', async () => {
    // Wait out the control's cache entry (RESPONSE_CACHE_MS = 1 s).
    await new Promise((r) => setTimeout(r, 1_100));
    const poisoned = await book('?%64epth=5&depth=1');
    expect(poisoned.bids).toHaveLength(1);
    // A different client asks the ordinary question: it should see 5 levels.
    const victim = await book('?depth=5');
    expect(victim.bids, 'the cached answer of another query is served for ?depth=5').toHaveLength(5);
  });

  it('an encoded name alone: the default depth (20) is cached under depth=3', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    await book('?%64epth=3'); // key depth=3, answered with the default depth
    const victim = await book('?depth=3');
    expect(victim.bids, '?depth=3 must hold 3 levels').toHaveLength(3);
  });
});
