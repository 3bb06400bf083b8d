// One node per data folder, one node per port (issue 8, part 3), with real node processes: a second
// node on a folder in use is refused, naming the folder and the process holding it; a SIGKILLed
// node never blocks its own restart; a taken port is refused; `--data` is a folder whatever its
// name, created when missing, and one holding unrelated files is refused.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NodeRuntime } from '../src/pipeline/runtime.js';
import { testConfig } from './support/node-config.js';
import { journalCounts } from './support/journal.js';

const NODE = join(__dirname, '../dist/src/node.js');

interface Ready { url: string; lastSequence: number }

async function start(data: string, port = 0): Promise<{ child: ChildProcessWithoutNullStreams; ready: Ready }> {
  // Without the demo's simulated price sources: nothing is sequenced after the ready line.
  const child = spawn(process.execPath, [NODE, '--data', data, '--port', String(port), '--fix-port', '0', '--demo-sources', 'off'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const ready = await new Promise<Ready>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => reject(new Error(`node exited with ${code}: ${err.trim()}`)));
  });
  return { child, ready };
}

/** Runs a node that is expected to refuse to start: its exit code and what it said. */
function refused(data: string, port = 0): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [NODE, '--data', data, '--port', String(port), '--fix-port', '0'], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr.trim() };
}

async function stop(child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

describe('one node per data folder and per port', () => {
  it('[OPS-2] a second node on a folder in use is refused, naming the folder and the process; after a SIGKILL the folder restarts at once', async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-lock-'));
    const first = await start(data);
    const second = refused(data);
    expect(second.status).toBe(2);
    expect(second.stderr).toContain(`data folder ${resolve(data)} is in use by process ${first.child.pid} (started `);
    expect(second.stderr).toContain('one node per folder');
    // The first node is unharmed: still serving, and the second wrote nothing.
    expect(first.child.exitCode).toBe(null);
    await stop(first.child, 'SIGKILL');
    const again = await start(data);
    // Nothing acknowledged before the kill is lost; only the node's clock commands (a funding
    // sample at each minute boundary crossed) may have come since.
    expect(again.ready.lastSequence).toBeGreaterThanOrEqual(first.ready.lastSequence);
    await stop(again.child);
    // The demo's set-up (26 commands) was done once, and is all there.
    const journal = await journalCounts(data);
    expect(journal.commands - journal.clocks).toBe(26);
  });

  it('[OPS-2] within one process too, a second open of a folder in use is refused until the first closes', async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-lock-'));
    const a = await NodeRuntime.open({ dataDir: data, config: testConfig() });
    await expect(NodeRuntime.open({ dataDir: data })).rejects.toThrow(`data folder ${resolve(data)} is in use by process ${process.pid}`);
    // Operators' read-only tools still read it.
    const view = await NodeRuntime.inspect(data);
    expect(view.lastSequence).toBe(a.lastSequence);
    await view.store.close();
    await a.close();
    const b = await NodeRuntime.open({ dataDir: data });
    await b.close();
  });

  it('[OPS-2] a port in use is refused with a clear message, and nothing is shared', async () => {
    const first = await start(mkdtempSync(join(tmpdir(), 'junction-port-')));
    const port = Number(new URL(first.ready.url).port);
    const other = mkdtempSync(join(tmpdir(), 'junction-port-'));
    const second = refused(other, port);
    expect(second.status).toBe(2);
    expect(second.stderr).toBe(`cannot start the node on ${other}: cannot listen on 127.0.0.1:${port}: the port is in use (or not permitted)`);
    await stop(first.child);
    // The refused node released its folder: it starts there now.
    const third = await start(other, port);
    expect(third.ready.url).toBe(`ws://127.0.0.1:${port}/ws`);
    await stop(third.child);
  });

  it('[OPS-2] --data is a folder: created when missing, an empty one and a dotted name work, one holding other files is refused', async () => {
    const root = mkdtempSync(join(tmpdir(), 'junction-dirs-'));
    for (const data of [join(root, 'new', 'nested'), mkdtempSync(join(tmpdir(), 'junction-empty-')), join(root, 'node.v2.data')]) {
      const { child } = await start(data);
      await stop(child);
      expect(statSync(data).isDirectory()).toBe(true);
      expect(readdirSync(data).sort()).toEqual(['data.mdb', 'demo-keys.json', 'demo-venues.json', 'junction.lock', 'lock.mdb']);
      // And it reopens.
      const { child: again } = await start(data);
      await stop(again);
    }
    const foreign = join(root, 'home');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine\n');
    const r = refused(foreign);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`cannot start the node on ${foreign}: ${foreign} holds files that are not a Junction node's (notes.txt): give an empty folder, a new name, or a node's folder`);
    expect(readdirSync(foreign)).toEqual(['notes.txt']);
    const file = join(root, 'plain-file');
    writeFileSync(file, '');
    expect(refused(file).stderr).toBe(`cannot start the node on ${file}: ${file} is not a directory: --data names a folder`);
    expect(existsSync(join(root, 'plain-file', 'data.mdb'))).toBe(false);
  });
});
