// The README's market-maker example, run as it is written (the block between the readme-example
// markers), against a node started as `npm start` starts it: it must connect, quote both sides,
// see the fill a taker makes against its ask, and cancel what is left. It imports the SDK by the
// package's name ('junction', package.json "exports"), as a user would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JunctionClient } from '../src/client/client.js';
import * as sbe from '../src/protocol/codec.js';

const ROOT = join(__dirname, '..');
let node: ChildProcess;
let url: string;
let keys: string;

beforeAll(async () => {
  const data = mkdtempSync(join(tmpdir(), 'junction-readme-'));
  node = spawn(process.execPath, [join(ROOT, 'dist/src/node.js'), '--data', data, '--port', '0', '--fix-port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  ({ url, keys } = await new Promise<{ url: string; keys: string }>((resolve) => {
    let out = '';
    node.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
  }));
});

afterAll(async () => {
  node.kill('SIGTERM');
  await new Promise((r) => node.once('exit', r));
});

describe('the README', () => {
  it('[OPS-1] its market-maker example runs as written: quotes both sides, sees a fill, cancels the rest', async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const block = /<!-- readme-example:start -->\n```js\n([\s\S]*?)```\n<!-- readme-example:end -->/.exec(readme);
    expect(block, 'the README holds the example between its markers').not.toBeNull();
    // Inside the package, so 'junction' resolves to it through package.json "exports".
    const file = join(ROOT, 'dist', 'readme-example.mjs');
    writeFileSync(file, block![1]);
    const example = spawn(process.execPath, [file, url, keys], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    example.stdout.on('data', (c: Buffer) => (out += c.toString()));
    example.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<number | null>((r) => example.once('exit', r));
    // A cold process's start, logon and first quote: 30 s at most, however loaded the host.
    for (const end = Date.now() + 30_000; !out.includes('quoting') && example.exitCode === null && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(err).toBe('');
    expect(out.trim()).toBe('quoting 0.01 @ 94990 / 0.01 @ 95010');
    // A client takes the market maker's ask.
    const demo = JSON.parse(readFileSync(keys, 'utf8')) as { keyId: number; privateKeyPem: string }[];
    const taker = await JunctionClient.connect({ url, keyId: 2, privateKeyPem: demo.find((k) => k.keyId === 2)!.privateKeyPem, reconnect: false });
    const took = await taker.place({ instrument: 'BTC-USD', side: sbe.Side.Buy, price: '95010', qty: '0.01', timeInForce: sbe.TimeInForce.IOC });
    expect(took.execType).toBe(sbe.ExecType.New);
    taker.close();
    expect(await exited).toBe(0);
    expect(err).toBe('');
    expect(out.trim().split('\n')).toEqual(['quoting 0.01 @ 94990 / 0.01 @ 95010', 'filled: sold 0.01 BTC at 95010', 'cancelled 1 orders']);
  });
});
