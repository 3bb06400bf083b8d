// Differential tests: the native core and the TypeScript reference book must emit identical event
// sequences for any command stream [CORE-4]. A mismatch names the seed and the first diverging event.
import { describe as suite, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EventKind, MatchingCore, ReferenceBook, Side, readWorkload, workloadCommand, WORKLOAD_INSTRUMENT,
  type Command, type CoreEvent,
} from '../src/core/index.js';
import { CommandStream, STREAM_INSTRUMENTS, STREAM_LIMITS, mulberry32 } from './support/command-stream.js';
import { firstDivergence } from './support/compare.js';

const SEEDS = 20;
const COMMANDS_PER_SEED = 52_000; // 20 x 52k = 1.04M commands in CI

interface Tally { commands: number; kinds: Map<number, number>; rejects: Set<number>; cancels: Set<number> }

function newCore(limits: typeof STREAM_LIMITS, eventsInitial?: number): MatchingCore {
  const core = new MatchingCore({ ...limits, eventsInitial });
  for (const spec of STREAM_INSTRUMENTS) core.addInstrument(spec);
  return core;
}

function runSeed(seed: number, tally: Tally): void {
  const stream = new CommandStream(seed);
  // Every fifth seed runs with a small order pool so OrderPoolFull is reached.
  const limits = seed % 5 === 0 ? { ...STREAM_LIMITS, ordersMax: 40 } : STREAM_LIMITS;
  const batchSize = mulberry32(seed ^ 0x5bd1e995);
  // A tiny initial event buffer forces the grow-and-resume path of flush().
  let core = newCore(limits, seed % 4 === 0 ? 4 : undefined);
  const reference = new ReferenceBook(limits);
  for (const spec of STREAM_INSTRUMENTS) reference.addInstrument(spec);

  let done = 0;
  let restored = false;
  while (done < COMMANDS_PER_SEED) {
    const n = Math.min(COMMANDS_PER_SEED - done, 1 + Math.floor(batchSize() * 400));
    const commands: Command[] = [];
    for (let i = 0; i < n; i++) commands.push(stream.next());
    for (const c of commands) core.submit(c);
    const nativeEvents = core.flush().toArray();
    const referenceEvents = reference.execute(commands);
    const divergence = firstDivergence(nativeEvents, referenceEvents, `seed ${seed}, batch starting at command ${done}`, commands);
    if (divergence) throw new Error(divergence);
    count(tally, referenceEvents, n);
    core.checkInvariants();
    done += n;
    // Halfway through, continue on a core restored from a snapshot: it must not diverge either.
    if (!restored && done >= COMMANDS_PER_SEED / 2) {
      core = MatchingCore.restore(core.snapshot());
      restored = true;
    }
  }
  for (const spec of STREAM_INSTRUMENTS) {
    for (const side of [Side.Buy, Side.Sell]) {
      expect(core.depth(spec.id, side, 10_000), `seed ${seed} depth`).toEqual(reference.depth(spec.id, side));
    }
  }
  expect(core.stats().resting).toBe(reference.resting);
}

function count(tally: Tally, events: CoreEvent[], commands: number): void {
  tally.commands += commands;
  for (const e of events) {
    tally.kinds.set(e.kind, (tally.kinds.get(e.kind) ?? 0) + 1);
    if (e.kind === EventKind.Rejected) tally.rejects.add(e.reason);
    if (e.kind === EventKind.Cancelled) tally.cancels.add(e.reason);
  }
}

suite('native core vs reference book', () => {
  it('[CORE-4] [CORE-1] [CORE-2] [CORE-3] [CORE-5] 1M random commands over 20 seeds give identical events', () => {
    const tally: Tally = { commands: 0, kinds: new Map(), rejects: new Set(), cancels: new Set() };
    for (let seed = 1; seed <= SEEDS; seed++) runSeed(seed, tally);
    expect(tally.commands).toBeGreaterThanOrEqual(1_000_000);
    // The streams must reach every event kind, every reject reason and every cancel reason.
    expect([...tally.kinds.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect([...tally.rejects].sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    expect([...tally.cancels].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
  });

  it('[CORE-4] replaying the shared workload gives identical events', () => {
    const dir = mkdtempSync(join(tmpdir(), 'junction-workload-'));
    const file = join(dir, 'ops.bin');
    // The project's shared folder sits beside the clone (as in CI); JUNCTION_SHARED points elsewhere.
    const generator = join(process.env.JUNCTION_SHARED ?? join(__dirname, '../../shared'), 'workloads/gen-ops.mjs');
    if (!existsSync(generator)) {
      throw new Error(`${generator} is missing: clone the project beside its shared/ folder, or set JUNCTION_SHARED to it`);
    }
    execFileSync(process.execPath, [generator, file, '200000', '42']);
    const ops = readWorkload(file);
    const core = new MatchingCore({ ordersMax: 1 << 16, instrumentsMax: 1 });
    core.addInstrument(WORKLOAD_INSTRUMENT);
    const reference = new ReferenceBook({ ordersMax: 1 << 16, instrumentsMax: 1 });
    reference.addInstrument(WORKLOAD_INSTRUMENT);
    let fills = 0;
    const total = ops.length / 5;
    for (let start = 0; start < total; start += core.batchCommandsMax) {
      const commands: Command[] = [];
      for (let i = start; i < Math.min(total, start + core.batchCommandsMax); i++) commands.push(workloadCommand(ops, i));
      for (const c of commands) core.submit(c);
      const nativeEvents = core.flush().toArray();
      const referenceEvents = reference.execute(commands);
      const divergence = firstDivergence(nativeEvents, referenceEvents, `workload seed 42, batch at op ${start}`, commands);
      if (divergence) throw new Error(divergence);
      fills += referenceEvents.filter((e) => e.kind === EventKind.Fill).length;
    }
    expect(fills).toBeGreaterThan(10_000);
    expect(core.stats().resting).toBe(reference.resting);
  });
});
