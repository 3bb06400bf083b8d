// Loads the native matching core (native/junction-core.node, built by `npm run build:native`).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque handle to one native engine. */
export type EngineHandle = { readonly __engine: unique symbol };

export interface NativeCore {
  createEngine(ordersMax: number, instrumentsMax: number): EngineHandle;
  addInstrument(h: EngineHandle, id: number, tickSize: number, lotSize: number, minQty: number, maxQty: number, refPrice: number, bandBps: number): void;
  process(h: EngineHandle, commands: Uint8Array, first: number, count: number, events: Uint8Array, eventStart: number, status: Uint32Array): void;
  depth(h: EngineHandle, instrument: number, side: number, levelsMax: number, out: Float64Array): number;
  stats(h: EngineHandle, out: Float64Array): void;
  band(h: EngineHandle, instrument: number, out: Float64Array): void;
  checkInvariants(h: EngineHandle): void;
  snapshot(h: EngineHandle): Buffer;
  restore(bytes: Uint8Array): EngineHandle;
  replayOps(h: EngineHandle, ops: Int32Array, instrument: number, account: number): number;
  /** flock(fd, LOCK_EX | LOCK_NB): 1 when taken, 0 when another open file holds it. */
  lockExclusive(fd: number): number;
}

const ADDON = join('native', 'junction-core.node');

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, ADDON);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${ADDON} not found: run \`npm run build:native\``);
    dir = parent;
  }
}

export const native: NativeCore = createRequire(import.meta.url)(findAddon()) as NativeCore;
