// Venues for tests: a jurisdiction table, venues with Ed25519 keys, clients and their custody
// attestations, all entered as operator commands through the node (as the CLI does).
import { newApiKeyPair } from '../../src/gateway/ws/auth.js';
import type { NodeRuntime } from '../../src/pipeline/runtime.js';
import type { AdminAction, VenueInput } from '../../src/venues/admin.js';
import type { Jurisdiction } from '../../src/venues/registry.js';

export const OPERATOR = 900;
/** testConfig's reserve account: it must cover the venues' unsettled limits (SL-17). */
export const RESERVE = 2;

/** Deposits into the reserve fund. */
export async function fundReserve(node: NodeRuntime, amount: number, key: string): Promise<void> {
  const o = await node.submit({ type: 'deposit', key, account: RESERVE, asset: 'QUOTE', amount });
  if (!o.ok) throw new Error(`reserve deposit refused: ${o.reasonName}`);
}

export const SG: Jurisdiction = {
  code: 'SG', name: 'Singapore', fatf: 'member', fatfConsistent: true, ioscoConsistent: true,
  assessedOn: '2026-06-30', source: 'FATF mutual evaluation follow-up 2026; IOSCO CDA implementation review 2026',
};
export const XX: Jurisdiction = {
  code: 'XX', name: 'Nowhere', fatf: 'none', fatfConsistent: false, ioscoConsistent: false,
  assessedOn: '2026-06-30', source: 'test fixture',
};

export interface TestVenue { input: VenueInput; privateKeyPem: string }

export function venueInput(code: string, senderCompId: string, overrides: Partial<VenueInput> = {}): TestVenue {
  const pair = newApiKeyPair();
  return {
    privateKeyPem: pair.privateKeyPem,
    input: {
      code, name: `${code} exchange`, legalEntity: `${code} Pte Ltd`, group: 'Junction Group', affiliated: true, jurisdiction: 'SG',
      regulator: 'MAS', licenceId: `LIC-${code}`, licenceExpires: '2099-12-31', custody: `${code}-custody`, senderCompId, targetCompId: 'JUNCTION',
      publicKey: Buffer.from(pair.publicKey).toString('base64'), cancelOnDisconnect: false, clientOrdersMax: 100, feeTier: 0,
      unsettledLimit: 100_000_000, unsettledLimitAsset: 'QUOTE',
      ...overrides,
    },
  };
}

export async function admin(node: NodeRuntime, body: AdminAction, operator = OPERATOR) {
  const outcome = await node.submit({ type: 'admin', operator, body });
  return outcome;
}

/** Admits an action, failing loudly when the node refuses it. */
export async function adminOk(node: NodeRuntime, body: AdminAction, operator = OPERATOR): Promise<void> {
  const o = await admin(node, body, operator);
  if (!o.ok) throw new Error(`${body.action} refused: ${o.reasonName}: ${o.text}`);
}

/** Adds SG and a venue with clients, each client attested `funding` (asset → amount). */
export async function addVenue(node: NodeRuntime, venue: TestVenue, clients: Record<string, Record<string, number>>): Promise<Record<string, number>> {
  await adminOk(node, { action: 'jurisdiction.set', jurisdiction: SG });
  await fundReserve(node, venue.input.unsettledLimit, `reserve-${venue.input.code}`);
  await adminOk(node, { action: 'venue.add', venue: venue.input });
  const accounts: Record<string, number> = {};
  for (const [client, funding] of Object.entries(clients)) {
    await adminOk(node, { action: 'venue.client.add', venue: venue.input.code, client });
    accounts[client] = node.pipeline.venues.registry.venues.get(venue.input.code)!.clients[client];
    for (const [asset, amount] of Object.entries(funding)) {
      await adminOk(node, { action: 'custody.attest', venue: venue.input.code, client, asset, amount, id: `fund-${client}-${asset}` });
    }
  }
  return accounts;
}
