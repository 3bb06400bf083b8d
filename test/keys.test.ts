// API keys from the command line (`junction keys`), against a node that is running: a key added
// logs on at once, a revoked one is refused at its next logon, and bad requests are refused by name.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient } from '../src/client/client.js';
import { GatewayServer } from '../src/gateway/ws/server.js';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { BUYER, testConfig } from './support/node-config.js';

const CLI = join(__dirname, '../dist/src/cli.js');
const dataDir = mkdtempSync(join(tmpdir(), 'junction-keys-'));
let node: NodeRuntime;
let server: GatewayServer;
let url: string;

const junction = (...args: string[]) => spawnSync(process.execPath, [CLI, 'keys', ...args, '--data', dataDir], { encoding: 'utf8', timeout: 30_000 });

beforeAll(async () => {
  node = await NodeRuntime.open({ dataDir, config: testConfig() });
  server = new GatewayServer(node);
  url = `ws://127.0.0.1:${await server.listen(0)}/ws`;
});

afterAll(async () => {
  server?.close();
  await node?.close();
});

describe('junction keys', () => {
  it('[OPS-1] adds a trading key that logs on at once, lists it, and revokes it so its next logon is refused', async () => {
    const file = join(dataDir, 'key-7.json');
    const added = junction('add', '--key-id', '7', '--account', String(BUYER), '--permission', 'trade', '--out', file);
    expect(added.status, added.stderr).toBe(0);
    expect(added.stdout).toBe(`key 7 added (trade); its private key is in ${file}\n`);
    const [key] = JSON.parse(readFileSync(file, 'utf8')) as { keyId: number; account: number; privateKeyPem: string }[];
    expect([key.keyId, key.account]).toEqual([7, BUYER]);
    const client = await JunctionClient.connect({ url, keyId: 7, privateKeyPem: key.privateKeyPem, reconnect: false });
    expect(client.logonAck!.account).toBe(BUYER);
    client.close();
    const listed = junction('list', '--json');
    expect(listed.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((k: { keyId: number; permission: string }) => [k.keyId, k.permission])).toEqual([[7, 'trade']]);
    expect(junction('revoke', '--key-id', '7').status).toBe(0);
    await expect(JunctionClient.connect({ url, keyId: 7, privateKeyPem: key.privateKeyPem, reconnect: false })).rejects.toThrow(/unknown API key/);
  });

  it('[OPS-1] refuses, by name, a key that exists, an account the node does not have, and a bad permission', () => {
    // An operator key names the person who holds it (AFMM-5: four eyes are two people).
    const nameless = junction('add', '--key-id', '8', '--permission', 'operator');
    expect([nameless.status, nameless.stderr.split('\n')[0]]).toEqual([2, 'junction keys: --person NAME is required for an operator key: the person who holds it (an AFMM change needs two different people)']);
    const sourceWithAccount = junction('add', '--key-id', '9', '--account', String(BUYER), '--permission', 'price-source');
    expect([sourceWithAccount.status, sourceWithAccount.stderr.split('\n')[0]]).toEqual([2, 'junction keys: --account is for trade and read keys: a price-source key acts for no account']);
    const traderNamed = junction('add', '--key-id', '9', '--account', String(BUYER), '--permission', 'trade', '--person', 'Jane Chan');
    expect([traderNamed.status, traderNamed.stderr.split('\n')[0]]).toEqual([2, 'junction keys: --person is for operator keys only']);
    const operator = junction('add', '--key-id', '8', '--permission', 'operator', '--person', 'Jane Chan');
    expect(operator.status, operator.stderr).toBe(0);
    expect(JSON.parse(operator.stdout)).toMatchObject({ keyId: 8, account: 0, permission: 'operator', person: 'Jane Chan' });
    expect(junction('list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l)).find((k: { keyId: number }) => k.keyId === 8)).toMatchObject({ person: 'Jane Chan' });
    const again = junction('add', '--key-id', '8', '--permission', 'operator', '--person', 'Jane Chan');
    expect([again.status, again.stderr]).toEqual([1, 'junction keys: key 8 exists (revoke it first to replace it)\n']);
    const nowhere = junction('add', '--key-id', '9', '--account', '999', '--permission', 'trade');
    expect(nowhere.status).toBe(2);
    expect(nowhere.stderr).toMatch(/^junction keys: --account must be one of the node's accounts \(1, 2, 20, 21, 22, 23\)/);
    const bad = junction('add', '--key-id', '9', '--account', String(BUYER), '--permission', 'admin');
    expect([bad.status, bad.stderr.split('\n')[0]]).toEqual([2, 'junction keys: --permission must be trade, read, operator or price-source']);
    expect(junction('revoke', '--key-id', '42').stderr).toBe('junction keys: no key 42\n');
  });
});
