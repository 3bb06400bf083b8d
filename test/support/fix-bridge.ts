// A node with the test configuration, a venue (venue-sg, CompID VSG) with funded clients C1 and C2,
// a funded platform maker, and the FIX bridge on loopback.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FixGateway } from '../../src/gateway/fix/gateway.js';
import { NodeRuntime, type NodeConfig } from '../../src/pipeline/runtime.js';
import { MAKER, testConfig } from './node-config.js';
import { addVenue, venueInput, type TestVenue } from './venues.js';
import type { VenueInput } from '../../src/venues/admin.js';

export interface Bridge {
  node: NodeRuntime;
  fix: FixGateway;
  port: number;
  venue: TestVenue;
  accounts: Record<string, number>;
  dataDir: string;
  close(): Promise<void>;
}

export async function fixBridge(options: { venue?: Partial<VenueInput>; config?: NodeConfig; dataDir?: string } = {}): Promise<Bridge> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'junction-fix-'));
  const node = await NodeRuntime.open({ dataDir, config: options.config ?? testConfig() });
  const venue = venueInput('venue-sg', 'VSG', options.venue);
  const accounts = await addVenue(node, venue, { C1: { QUOTE: 1_000_000, BASE: 100 }, C2: { QUOTE: 500_000, BASE: 50 } });
  await node.submit({ type: 'deposit', key: 'm', account: MAKER, asset: 'BASE', amount: 1_000 });
  await node.submit({ type: 'deposit', key: 'mq', account: MAKER, asset: 'QUOTE', amount: 1_000_000 });
  const fix = new FixGateway(node);
  const port = await fix.listen(0);
  return {
    node, fix, port, venue, accounts, dataDir,
    close: async () => {
      await fix.close();
      await node.close();
    },
  };
}
