// A node in its own process on a clock the test sets (a script such as settle-child.ts or
// perp-child.ts: argv dataDir, clock ms, and --state to print its state and exit). Commands go in
// as JSON lines and each is acknowledged once durable; the test kills it with SIGKILL when it likes.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { NodeRuntime, type NodeConfig } from '../../src/pipeline/runtime.js';
import type { NodeCommand } from '../../src/pipeline/commands.js';

export interface ClockedChild {
  /** Sends a command and waits until it is durable. */
  send(command: unknown): Promise<{ ok: boolean; text?: string }>;
  /** Sends a command without waiting. */
  sendBlind(command: unknown): void;
  kill(): Promise<void>;
}

export function clockedChildren<State>(script: string, dataDir: string): { child(atMs: number): Promise<ClockedChild>; state(atMs: number): Promise<State> } {
  const child = async (atMs: number): Promise<ClockedChild> => {
    const p = spawn(process.execPath, [script, dataDir, String(atMs)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const acks = new Map<number, (v: { ok: boolean; text?: string }) => void>();
    let ready: () => void;
    const started = new Promise<void>((r) => (ready = r));
    createInterface({ input: p.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: number; ack?: number; ok: boolean; text?: string };
      if (m.ready !== undefined) ready();
      if (m.ack !== undefined) acks.get(m.ack)?.(m);
    });
    await started;
    let next = 1;
    return {
      send: (command) => new Promise((resolve) => {
        const id = next++;
        acks.set(id, resolve);
        p.stdin.write(JSON.stringify({ id, command }) + '\n');
      }),
      sendBlind: (command) => void p.stdin.write(JSON.stringify({ id: next++, command }) + '\n'),
      kill: () => new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGKILL');
      }),
    };
  };
  const state = (atMs: number) => new Promise<State>((resolve) => {
    const p = spawn(process.execPath, [script, dataDir, String(atMs), '--state'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.on('exit', () => resolve(JSON.parse(out.trim().split('\n').at(-1)!)));
  });
  return { child, state };
}

/**
 * The child's half, what a clocked child script runs (argv: dataDir, clock ms, optional --state):
 * opens the node on that clock; with --state prints `state(runtime)` and exits, else prints a ready
 * line and acknowledges each command read from stdin once it is durable.
 */
export async function runClockedChild(config: NodeConfig, state: (runtime: NodeRuntime) => unknown): Promise<void> {
  const [dataDir, clock, mode] = process.argv.slice(2);
  const runtime = await NodeRuntime.open({ dataDir, config, clockMs: () => Number(clock) });
  if (mode === '--state') {
    process.stdout.write(JSON.stringify(state(runtime)) + '\n', () => process.exit(0));
    return;
  }
  process.stdout.write(JSON.stringify({ ready: runtime.lastSequence }) + '\n');
  createInterface({ input: process.stdin }).on('line', (line) => {
    const { id, command } = JSON.parse(line) as { id: number; command: NodeCommand };
    void runtime.submit(command).then((o) => process.stdout.write(JSON.stringify({ ack: id, ok: o.ok, text: o.text }) + '\n'));
  });
}
