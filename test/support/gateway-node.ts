// A node with the test configuration, API keys, funded buyer and seller, and a gateway on loopback.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newApiKeyPair } from '../../src/gateway/ws/auth.js';
import { GatewayServer, type GatewayOptions } from '../../src/gateway/ws/server.js';
import { KeyStore, type Permission } from '../../src/gateway/ws/key-store.js';
import { NodeRuntime } from '../../src/pipeline/runtime.js';
import { BUYER, SELLER, testConfig } from './node-config.js';

export interface GatewayNode {
  node: NodeRuntime;
  server: GatewayServer;
  url: string;
  /** keyId → the key's PKCS#8 private key. */
  pems: Map<number, string>;
  close(): Promise<void>;
}

export async function gatewayNode(keys: [keyId: number, account: number, permission?: Permission][], funding = 1, options: GatewayOptions = {},
  config = testConfig()): Promise<GatewayNode> {
  const node = await NodeRuntime.open({ dataDir: mkdtempSync(join(tmpdir(), 'junction-gw-')), config });
  const pems = new Map<number, string>();
  const keyStore = new KeyStore(node.store);
  for (const [keyId, account, permission = 'trade'] of keys) {
    const pair = newApiKeyPair();
    pems.set(keyId, pair.privateKeyPem);
    await keyStore.putApiKey({ keyId, account, publicKey: pair.publicKey, permission });
  }
  await node.submit({ type: 'deposit', key: 'b', account: BUYER, asset: 'QUOTE', amount: 1_000_000 * funding });
  await node.submit({ type: 'deposit', key: 's', account: SELLER, asset: 'BASE', amount: 1_000 * funding });
  const server = new GatewayServer(node, options);
  const url = `ws://127.0.0.1:${await server.listen(0)}/ws`;
  return {
    node, server, url, pems,
    close: async () => {
      server.close();
      await node.close();
    },
  };
}
