// The crash test (OPS-2): a node in a child process under continuous order flow is killed with
// SIGKILL at random moments, restarted, and checked. Recovery itself verifies that replaying the
// journal posts exactly what was committed (no fill applied twice), that balances add up to
// deposits minus withdrawals, and that held amounts equal what open orders still need; this test
// checks that no acknowledged command was lost and that the recovered totals match the flow.
import { describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeCommand } from '../src/pipeline/commands.js';
import { mulberry32 } from './support/command-stream.js';
import { BUYER, MAKER, SELLER } from './support/node-config.js';

const CHILD = join(__dirname, '../dist/test/support/crash-child.js');
const KILLS = 30;
const ASSETS = ['QUOTE', 'BASE'];

interface Sent { command: NodeCommand; seq?: number; ok?: boolean; orderId?: number }

function startChild(data: string, check = false): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [CHILD, data, ...(check ? ['--check'] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
}

function lines(child: ChildProcessWithoutNullStreams, onLine: (value: Record<string, unknown>) => void): void {
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const p of parts) if (p) onLine(JSON.parse(p));
  });
}

describe('crash recovery', () => {
  it(`[OPS-2] [CORE-4] [SL-10] ${KILLS} SIGKILLs under load with amends in the flow lose no acknowledged command and apply no fill twice`, async () => {
    const data = mkdtempSync(join(tmpdir(), 'junction-crash-'));
    const random = mulberry32(2024);
    const sent = new Map<number, Sent>();
    let nextId = 1;
    const orderIds: number[] = [];
    const accounts = [BUYER, SELLER, MAKER];
    const nextCommand = (): NodeCommand => {
      const x = random();
      const account = accounts[Math.floor(random() * accounts.length)];
      if (x < 0.15) return { type: 'deposit', key: `d-${nextId}`, account, asset: ASSETS[Math.floor(random() * 2)], amount: 1 + Math.floor(random() * 50_000) };
      if (x < 0.2) return { type: 'withdraw', key: `w-${nextId}`, account, asset: ASSETS[Math.floor(random() * 2)], amount: 1 + Math.floor(random() * 5_000) };
      // Cancels and amends (up, down, repriced) aim at the latest orders, so several land on the
      // same order within one batch, beside the fills that cross it: the combinations that broke holds.
      const recent = () => orderIds[Math.max(0, orderIds.length - 1 - Math.floor(random() * 12))];
      if (x < 0.3 && orderIds.length > 0) return { type: 'cancel', account, instrument: 1, orderId: recent() };
      if (x < 0.5 && orderIds.length > 0) {
        return { type: 'amend', account, instrument: 1, orderId: recent(), price: 950 + Math.floor(random() * 100), qty: 1 + Math.floor(random() * 60) };
      }
      return {
        type: 'order', account, instrument: 1, side: random() < 0.5 ? 0 : 1, orderType: 0, tif: random() < 0.2 ? 1 : 0,
        price: 950 + Math.floor(random() * 100), qty: 1 + Math.floor(random() * 20),
      };
    };

    let fillsSeen = 0;
    for (let round = 0; round < KILLS; round++) {
      const child = startChild(data);
      let ready!: () => void;
      const isReady = new Promise<void>((r) => (ready = r));
      let answered = 0;
      lines(child, (v) => {
        if ('ready' in v) return ready();
        answered++;
        const s = sent.get(v.ack as number)!;
        s.seq = v.seq as number;
        s.ok = v.ok as boolean;
        if (v.orderId) orderIds.push(v.orderId as number);
      });
      const exited = new Promise<void>((r) => child.on('exit', () => r()));
      await isReady;
      // Continuous flow in bursts of varying size, until a random moment — and at least 40
      // acknowledgements in, so a slow host still puts the final counts' flow through.
      const killAt = Date.now() + 40 + Math.floor(random() * 160);
      while (Date.now() < killAt || answered < 40) {
        const burst = 1 + Math.floor(random() * 40);
        let text = '';
        for (let i = 0; i < burst; i++) {
          const id = nextId++;
          const command = nextCommand();
          sent.set(id, { command });
          text += JSON.stringify({ id, command }) + '\n';
        }
        child.stdin.write(text);
        await new Promise((r) => setTimeout(r, Math.floor(random() * 4)));
      }
      child.kill('SIGKILL');
      await exited;

      // Recover and check.
      const checker = startChild(data, true);
      let report: Record<string, unknown> | undefined;
      let stderr = '';
      checker.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      lines(checker, (v) => (report = v));
      const code = await new Promise<number | null>((r) => checker.on('exit', r));
      expect(stderr, `recovery after kill ${round + 1}`).toBe('');
      expect(code).toBe(0);
      const journal = new Map((report!.journal as [number, NodeCommand][]).map(([seq, c]) => [seq, c]));
      const acked = [...sent.values()].filter((s) => s.seq !== undefined);
      for (const s of acked) {
        expect(journal.get(s.seq!), `acknowledged command at seq ${s.seq} after kill ${round + 1}`).toEqual(s.command);
      }
      // Deposits minus withdrawals: every acknowledged one is in; nothing beyond what was sent.
      const inflow = report!.inflow as number[];
      ASSETS.forEach((asset, i) => {
        const net = (ok: (s: Sent) => boolean) => [...sent.values()].filter(ok).reduce((sum, s) => {
          const c = s.command;
          if (c.type === 'deposit' && c.asset === asset) return sum + c.amount;
          if (c.type === 'withdraw' && c.asset === asset) return sum - c.amount;
          return sum;
        }, 0);
        const ackedDeposits = net((s) => s.ok === true && s.command.type === 'deposit');
        const allWithdrawals = net((s) => s.command.type === 'withdraw');
        const allDeposits = net((s) => s.command.type === 'deposit');
        const ackedWithdrawals = net((s) => s.ok === true && s.command.type === 'withdraw');
        expect(inflow[i]).toBeGreaterThanOrEqual(ackedDeposits + allWithdrawals);
        expect(inflow[i]).toBeLessThanOrEqual(allDeposits + ackedWithdrawals);
      });
      expect(report!.fills as number).toBeGreaterThanOrEqual(fillsSeen);
      fillsSeen = report!.fills as number;
    }
    expect(fillsSeen).toBeGreaterThan(50);
    expect([...sent.values()].filter((s) => s.command.type === 'amend' && s.ok === true).length).toBeGreaterThan(200);
    expect([...sent.values()].filter((s) => s.seq !== undefined).length).toBeGreaterThan(1_000);
  }, 180_000);
});
