// `npm start` runs the node: it loads the demo instruments, says it is ready, and stops cleanly.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const NODE_JS = join(__dirname, '../dist/src/node.js');

describe('node start-up', () => {
  it('[CORE-1] [CORE-5] starts with the demo instruments on the native core and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [NODE_JS, '--orders-max', '4096'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buffered = '';
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts);
        if (lines.some((l) => l.includes('"ready"'))) resolve();
      });
    });
    await ready;
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(JSON.parse(lines[0])).toMatchObject({ event: 'ready', instruments: ['BTC-USD', 'ETH-USD', 'SOL-USD'], ordersMax: 4096 });
    expect(JSON.parse(lines[1])).toEqual({ event: 'stopped', signal: 'SIGTERM', resting: 0 });
  });

  it('[CORE-5] refuses a bad --orders-max with a clear message', async () => {
    const child = spawn(process.execPath, [NODE_JS, '--orders-max', 'lots'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('--orders-max must be a positive integer, got lots');
  });
});
