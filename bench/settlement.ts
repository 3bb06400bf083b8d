// A settlement cycle over many fills: `npm run bench:settlement -- --obligations N [--venues V]`
// puts N fills between a platform market maker and the clients of V venues through the node's
// pipeline (risk, the native core, the ledger, the venues' custody dues), then times one cycle
// netting them into batches (net_ms) and confirming every leg so each batch settles (post_ms).
// Prints one JSON line: {"obligations","venues","batches","net_ms","post_ms"}.
import { parseArgs } from 'node:util';
import { AccountKind, PLATFORM_CUSTODY } from '../src/ledger/model.js';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { NodeRuntime, type NodeConfig } from '../src/pipeline/runtime.js';
import { newApiKeyPair } from '../src/gateway/ws/auth.js';

const { values } = parseArgs({ options: { obligations: { type: 'string', default: '1000000' }, venues: { type: 'string', default: '10' } } });
const FILLS = Number(values.obligations);
const VENUES = Number(values.venues);
const MAKER = 10;
const RESERVE = 2;

const config: NodeConfig = {
  ordersMax: 1 << 16,
  assets: [{ code: 'USD', scale: 0, custody: PLATFORM_CUSTODY }, { code: 'BTC', scale: 0, custody: PLATFORM_CUSTODY }],
  participants: [{ id: 1, name: 'platform', professionalInvestor: true, affiliatedMarketMaker: false, homeVenue: null }],
  accounts: [
    { id: 1, participant: 1, kind: AccountKind.Fees, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: RESERVE, participant: 1, kind: AccountKind.Reserve, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 0, orderNotionalMax: 0 },
    { id: MAKER, participant: 1, kind: AccountKind.Client, feeTier: 0, custody: [PLATFORM_CUSTODY], instruments: [], ordersOpenMax: 10, orderNotionalMax: 0 },
  ],
  feeTiers: [{ id: 0, makerBps: 1, takerBps: 2 }],
  instruments: [{ symbol: 'BTC-USD', base: 'BTC', quote: 'USD', spec: { id: 1, tickSize: 1, lotSize: 1, minQty: 1, maxQty: 1e12, refPrice: 1_000, bandBps: 0 } }],
};
const { ledger, pipeline } = NodeRuntime.build(config);
let seq = 0;
let ts = Date.parse('2027-03-01T00:00:00Z') * 1000;
const apply = (commands: NodeCommand[]) => {
  const outcomes = pipeline.apply(commands.map((command) => ({ seq: ++seq, ts, command })));
  ledger.takePending();
  return outcomes;
};
const admin = (body: unknown): NodeCommand => ({ type: 'admin', operator: 1, body } as NodeCommand);

// The venues, each with one funded client, and the reserve that covers their limits.
const limit = 1e12;
apply([
  { type: 'deposit', key: 'reserve', account: RESERVE, asset: 'USD', amount: limit * VENUES },
  { type: 'deposit', key: 'maker', account: MAKER, asset: 'BTC', amount: FILLS * 2 },
  admin({ action: 'jurisdiction.set', jurisdiction: { code: 'SG', name: 'Singapore', fatf: 'member', fatfConsistent: true, ioscoConsistent: true, assessedOn: '2026-06-30', source: 'bench' } }),
]);
const clients: number[] = [];
for (let v = 0; v < VENUES; v++) {
  const code = `venue-${v}`;
  apply([
    admin({ action: 'venue.add', venue: {
      code, name: code, legalEntity: code, group: 'g', affiliated: true, jurisdiction: 'SG', regulator: 'r', licenceId: 'l', licenceExpires: '2099-12-31',
      custody: `${code}-custody`, senderCompId: `V${v}`, targetCompId: 'JUNCTION', publicKey: Buffer.from(newApiKeyPair().publicKey).toString('base64'),
      cancelOnDisconnect: false, clientOrdersMax: 1_000, feeTier: 0, unsettledLimit: limit, unsettledLimitAsset: 'USD',
    } }),
    admin({ action: 'venue.client.add', venue: code, client: 'C1' }),
    admin({ action: 'custody.attest', venue: code, client: 'C1', asset: 'USD', amount: 1e13, id: 'fund' }),
  ]);
  clients.push(pipeline.venues.registry.venues.get(code)!.clients.C1);
}
const maker = apply([{ type: 'order', account: MAKER, instrument: 1, side: 1, orderType: 0, tif: 0, price: 1_000, qty: FILLS * 2 }]);
if (!maker[0].ok) throw new Error(`maker refused: ${maker[0].reasonName}`);
// The fills: each venue client's IOC buys of 1 BTC, round the venues.
let fills = 0;
while (fills < FILLS) {
  const n = Math.min(4_000, FILLS - fills);
  const batch: NodeCommand[] = [];
  for (let i = 0; i < n; i++) batch.push({ type: 'order', account: clients[(fills + i) % VENUES], instrument: 1, side: 0, orderType: 0, tif: 1, price: 1_000, qty: 1 });
  for (const o of apply(batch)) if (!o.ok) throw new Error(`order refused: ${o.reasonName} ${o.text ?? ''}`);
  fills += n;
}

// One cycle: net, then confirm every leg (the batch settles on its last).
pipeline.venues.settlement.config = { intradayMinutes: 0, dailyCutoffHkt: '17:00', deadlineMinutes: 60 };
ts += 1;
let t = process.hrtime.bigint();
const batches = pipeline.venues.settlement.cycle(++seq, ts, 'daily');
const netMs = Number(process.hrtime.bigint() - t) / 1e6;
t = process.hrtime.bigint();
for (const b of batches) b.legs.forEach((_, leg) => pipeline.venues.settlement.confirm(b.id, leg, 'bench', 1, ts));
const postMs = Number(process.hrtime.bigint() - t) / 1e6;
if (batches.some((b) => b.state !== 'settled')) throw new Error('a batch did not settle');
console.log(JSON.stringify({ obligations: FILLS, venues: VENUES, batches: batches.length, net_ms: Math.round(netMs * 100) / 100, post_ms: Math.round(postMs * 100) / 100 }));
