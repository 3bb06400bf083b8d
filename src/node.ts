// Junction's composition root: builds the node from its parts and runs it until told to stop.
// `npm start -- --data DIR --port N` opens (or creates, with the demo configuration, funded demo
// accounts and their API keys in DIR/demo-keys.json) the node in DIR, recovering its state from
// LMDB, and serves the market-maker protocol on ws://127.0.0.1:N/ws — and on the same port the
// public disclosure site, http://127.0.0.1:N/ (src/site/) — until SIGINT or SIGTERM. With
// the demo's perpetuals, three simulated price sources log on and price their indexes every second
// (--demo-sources off runs none), and at first start the professional client opens a position.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AdminAction } from './venues/admin.js';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import { parseArgs } from 'node:util';
import {
  DEMO_CONFIG, DEMO_FUNDING, DEMO_JURISDICTIONS, DEMO_PERP_MAKER, DEMO_POSITIONS, DEMO_PRICE_SOURCES, DEMO_PRO_CLIENT, DEMO_VENUE_FUNDING, DEMO_VENUES,
  demoAssessments,
} from './demo.js';
import { DemoSources, type SourceKey } from './demo-sources.js';
import { FIX_PORT_DEFAULT, FixGateway } from './gateway/fix/gateway.js';
import { newApiKeyPair } from './gateway/ws/auth.js';
import { KeyStore, type Permission } from './gateway/ws/key-store.js';
import { GatewayServer } from './gateway/ws/server.js';
import { nodeLog, type Log } from './ops/log.js';
import { NodeMetrics } from './ops/metrics.js';
import { logNotableEvents } from './ops/notable-events.js';
import { NodeRuntime } from './pipeline/runtime.js';
import { SITE_CONNECTIONS_MAX, SITE_CONNECTIONS_PER_ADDRESS_MAX } from './site/limits.js';

export const DATA_DIR_DEFAULT = '.data';
export const PORT_DEFAULT = 8800;
/** The demo operator key's id in DIR/demo-keys.json. */
export const OPERATOR_KEY_ID = 100;
/** The person who holds the demo's operator key (an AFMM change needs a second person's key). */
export const DEMO_OPERATOR_PERSON = 'Demo operator';
/** The demo keys of the perpetuals' professional client (account 12) and market maker (account 13). */
export const PRO_CLIENT_KEY_ID = 112;
export const PERP_MAKER_KEY_ID = 113;

interface DemoKey { keyId: number; account: number; privateKeyPem: string; permission?: Permission }

/**
 * Creates the demo API keys once, writing the private halves to DIR/demo-keys.json: key 1 trades
 * for the market maker (account 10), key 2 for the client (account 11), keys 3.. for the market
 * maker again (load generators want one key per connection), keys 112 and 113 for the perpetuals'
 * professional client (12) and market maker (13), key 100 is the operator's, and keys 201-203 are
 * the demo price sources'.
 */
async function demoKeys(runtime: NodeRuntime, dataDir: string, count: number): Promise<void> {
  const file = join(dataDir, 'demo-keys.json');
  if (existsSync(file)) return;
  if (count >= OPERATOR_KEY_ID) throw new Error(`--demo-keys ${count}: at most ${OPERATOR_KEY_ID - 1} (keys from ${OPERATOR_KEY_ID} on are the operator's, the perpetuals' accounts' and the price sources')`);
  const keys: DemoKey[] = [];
  const store = new KeyStore(runtime.store);
  const add = async (keyId: number, account: number, permission: Permission) => {
    const pair = newApiKeyPair();
    await store.putApiKey({ keyId, account, publicKey: pair.publicKey, permission, ...(permission === 'operator' ? { person: DEMO_OPERATOR_PERSON } : {}) });
    keys.push({ keyId, account, privateKeyPem: pair.privateKeyPem, ...(permission !== 'trade' ? { permission } : {}) });
  };
  for (let keyId = 1; keyId <= count; keyId++) await add(keyId, keyId === 2 ? 11 : 10, 'trade');
  const perps = runtime.pipeline.perps.active;
  if (perps) {
    await add(PRO_CLIENT_KEY_ID, DEMO_PRO_CLIENT, 'trade');
    await add(PERP_MAKER_KEY_ID, DEMO_PERP_MAKER, 'trade');
  }
  // The operator's key (venue registry, custody attestations, perpetuals' settings): it cannot trade.
  await add(OPERATOR_KEY_ID, 0, 'operator');
  // The price sources' keys: they send signed index prices and cannot trade either.
  if (perps) for (const source of DEMO_PRICE_SOURCES) await add(source.keyId, 0, 'price-source');
  writeFileSync(file, JSON.stringify(keys, null, 2) + '\n', { mode: 0o600 });
}

/** YYYY-MM-DD of a time (UTC). */
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * The perpetuals' demo: the price sources (their keys from DIR/demo-keys.json) start from each
 * index as the node last had it; at first start (`fresh`), once both indexes stand, the
 * professional client opens its demo position against the market maker. Resolves with the sources
 * (none for a node without perpetuals, or an older demo folder whose key file has no source keys).
 */
async function demoPerps(runtime: NodeRuntime, dataDir: string, url: string, fresh: boolean, log: Log, ca?: Buffer): Promise<DemoSources | undefined> {
  const perps = runtime.pipeline.perps;
  if (!perps.active) return undefined;
  const keys = (JSON.parse(readFileSync(join(dataDir, 'demo-keys.json'), 'utf8')) as DemoKey[]).filter((k) => k.permission === 'price-source');
  if (keys.length === 0) return undefined;
  const starts = new Map<string, number>();
  for (const id of perps.products.keys()) {
    const m = perps.marketView(id);
    if (!starts.has(m.underlying)) starts.set(m.underlying, m.index > 0 ? m.index : m.mark);
  }
  const sources = await DemoSources.start(url, keys as SourceKey[], starts, ca);
  if (fresh) void demoPositions(runtime).catch((e: Error) => log.error({ event: 'demo', error: e.message }, 'the demo position could not be opened'));
  return sources;
}

async function demoPositions(runtime: NodeRuntime): Promise<void> {
  const perps = runtime.pipeline.perps;
  // A position opens only on a sound index: wait for the sources' first prices.
  const waitMs = 20_000;
  for (let waited = 0; DEMO_POSITIONS.some((p) => perps.marketView(p.instrument).degraded); waited += 100) {
    if (waited >= waitMs) throw new Error(`demo position: the indexes had fewer usable price sources than they need after ${waitMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const p of DEMO_POSITIONS) {
    const tick = runtime.config.instruments.find((l) => l.spec.id === p.instrument)!.spec.tickSize;
    const price = Math.round(perps.marketView(p.instrument).mark / tick) * tick;
    const order = (account: number, side: number, tif: number) => ({ type: 'order' as const, account, instrument: p.instrument, side, orderType: 0, tif, price, qty: p.qty });
    for (const [account, side, tif] of [[DEMO_PERP_MAKER, 1 - p.clientSide, 0], [DEMO_PRO_CLIENT, p.clientSide, 1]]) {
      const o = await runtime.submit(order(account, side, tif));
      if (!o.ok) throw new Error(`demo position: account ${account}'s order on ${p.instrument} refused: ${o.reasonName}: ${o.text ?? ''}`);
    }
  }
}

/**
 * Adds the demo venues once (operator commands, as an operator would enter them: the node's own
 * key 0), with funded clients, and writes DIR/demo-venues.json: what an outside FIX engine needs to
 * log on (host, port, CompIDs, clients, the Ed25519 private key). The port is refreshed each start.
 */
async function demoVenues(runtime: NodeRuntime, dataDir: string, fixPort: number): Promise<string> {
  const file = join(dataDir, 'demo-venues.json');
  type Entry = { venue: string; host: string; port: number; senderCompId: string; targetCompId: string; clients: string[]; eligible: boolean; privateKeyPem: string };
  let entries: Entry[];
  if (existsSync(file)) {
    entries = JSON.parse(readFileSync(file, 'utf8')) as Entry[];
  } else {
    const admin = async (body: AdminAction) => {
      const o = await runtime.submit({ type: 'admin', operator: 0, body });
      if (!o.ok) throw new Error(`demo venue setup: ${body.action} refused: ${o.reasonName}: ${o.text}`);
    };
    for (const jurisdiction of DEMO_JURISDICTIONS) await admin({ action: 'jurisdiction.set', jurisdiction });
    entries = [];
    for (const { clients, ...venue } of DEMO_VENUES) {
      const pair = newApiKeyPair();
      await admin({ action: 'venue.add', venue: { ...venue, publicKey: Buffer.from(pair.publicKey).toString('base64') } });
      for (const client of clients) {
        await admin({ action: 'venue.client.add', venue: venue.code, client });
        for (const f of DEMO_VENUE_FUNDING) {
          await admin({ action: 'custody.attest', venue: venue.code, client, asset: f.asset, amount: f.amount, id: `demo-${client}-${f.asset}` });
        }
      }
      entries.push({
        venue: venue.code, host: '127.0.0.1', port: fixPort, senderCompId: venue.senderCompId, targetCompId: venue.targetCompId, clients,
        eligible: runtime.pipeline.venues.registry.refusal(venue.code, Date.now() * 1000) === undefined, privateKeyPem: pair.privateKeyPem,
      });
    }
  }
  for (const e of entries) e.port = fixPort;
  writeFileSync(file, JSON.stringify(entries, null, 2) + '\n', { mode: 0o600 });
  return file;
}

/**
 * Opens the node in `dataDir`; on a new folder (`fresh`) funds the demo accounts and has the demo
 * operator record the suitability assessments the perpetuals need (a year from today).
 */
export async function startNode(dataDir: string, demoKeyCount = 2, onCommit?: (commands: number, micros: number) => void): Promise<{ runtime: NodeRuntime; fresh: boolean }> {
  const runtime = await NodeRuntime.open({ dataDir, config: DEMO_CONFIG, onCommit });
  const fresh = runtime.lastSequence === 0;
  if (fresh) {
    await Promise.all(DEMO_FUNDING.map((f) => runtime.submit({ type: 'deposit', key: `demo-${f.account}-${f.asset}`, ...f })));
    if (runtime.pipeline.perps.active) {
      const now = Date.now();
      const expires = new Date(now);
      expires.setUTCFullYear(expires.getUTCFullYear() + 1);
      for (const body of demoAssessments(dayOf(now), dayOf(expires.getTime()))) {
        const o = await runtime.submit({ type: 'admin', operator: OPERATOR_KEY_ID, body });
        if (!o.ok) throw new Error(`demo assessment of participant ${body.participant} refused: ${o.reasonName}: ${o.text}`);
      }
    }
  }
  await demoKeys(runtime, dataDir, demoKeyCount);
  return { runtime, fresh };
}

const COMMIT_SAMPLES_MAX = 1_000_000;
/** Each commit's latency and its commands: [micros, commands] (weighted, what each order waited for). */
/**
 * Samples in preallocated typed arrays (made on the first use, only with --stats): collecting them
 * must not itself allocate per order, or it would be measured as the node's allocation.
 */
class Samples {
  private values: Float64Array | undefined;
  private weights: Float64Array | undefined;
  length = 0;
  push(value: number, weight = 1): void {
    this.values ??= new Float64Array(COMMIT_SAMPLES_MAX);
    this.weights ??= new Float64Array(COMMIT_SAMPLES_MAX);
    if (this.length === COMMIT_SAMPLES_MAX) return;
    this.values[this.length] = value;
    this.weights[this.length++] = weight;
  }
  /** [value, weight] pairs, sorted by value. */
  sorted(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < this.length; i++) out.push([this.values![i], this.weights![i]]);
    return out.sort((a, b) => a[0] - b[0]);
  }
}
const commitWeights = new Samples();
const orderMicros = new Samples();
/** How late the event loop ran (a busy or paused main thread), sampled every 1 ms. */
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
let committedCommands = 0;
/**
 * CPU time and commands from the first commit on (or from SIGUSR2, which a benchmark sends when
 * its measured window starts and which also clears the latency samples): the cost per command.
 */
let cpuAtFirstCommit: NodeJS.CpuUsage | undefined;
let commandsAtFirstCommit = 0;
/**
 * Garbage collection over the measured window (from SIGUSR2): each collection's heap use before
 * and after (GCProfiler), from which the bytes allocated follow, and each pause (perf_hooks).
 */
let gcProfiler: v8.GCProfiler | undefined;
let heapUsedAtStart = 0;
const gcPausesUs: number[] = [];
/** Per kind of collection (perf_hooks' detail.kind: 1 scavenge, 2 minor mark-sweep, 4 mark-compact, 8 incremental, 16 weak callbacks): [count, total µs, max µs]. */
const gcByKind = new Map<number, [number, number, number]>();
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const us = e.duration * 1000;
    if (gcPausesUs.length < COMMIT_SAMPLES_MAX) gcPausesUs.push(us);
    const detail = (e as PerformanceEntry & { detail?: { kind?: number; flags?: number } }).detail;
    // Kind × 1000 + flags (perf_hooks constants: e.g. 4000 a mark-compact, +32 one for external memory).
    const kind = (detail?.kind ?? 0) * 1000 + (detail?.flags ?? 0);
    const k = gcByKind.get(kind) ?? [0, 0, 0];
    gcByKind.set(kind, [k[0] + 1, k[1] + us, Math.max(k[2], us)]);
  }
});

/**
 * JUNCTION_ALLOC_PROFILE=FILE: samples every allocation of the measured window (collected objects
 * included) with V8's sampling heap profiler and writes the profile to FILE on stop (a diagnosis
 * tool: which code allocates per order).
 */
const allocProfile = process.env.JUNCTION_ALLOC_PROFILE;
let inspector: import('node:inspector').Session | undefined;
async function startAllocProfile(): Promise<void> {
  if (!allocProfile) return;
  const { Session } = await import('node:inspector');
  inspector?.disconnect();
  inspector = new Session();
  inspector.connect();
  inspector.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
function stopAllocProfile(): Promise<void> {
  if (!inspector) return Promise.resolve();
  return new Promise((resolve) => inspector!.post('HeapProfiler.stopSampling', (err, result) => {
    if (!err) writeFileSync(allocProfile!, JSON.stringify((result as { profile: unknown }).profile));
    resolve();
  }));
}

function startGcWindow(): void {
  void startAllocProfile();
  gcProfiler?.stop();
  gcProfiler = new v8.GCProfiler();
  heapUsedAtStart = v8.getHeapStatistics().used_heap_size;
  gcProfiler.start();
  gcPausesUs.length = 0;
  gcByKind.clear();
}

/** Bytes the JavaScript heap allocated since startGcWindow: what each collection freed, plus the growth left. */
function allocatedBytes(): number {
  const result = gcProfiler?.stop() as { statistics: { beforeGC: { heapStatistics: { usedHeapSize: number } }; afterGC: { heapStatistics: { usedHeapSize: number } } }[] } | undefined;
  gcProfiler = undefined;
  let allocated = 0;
  let used = heapUsedAtStart;
  for (const gc of result?.statistics ?? []) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - used;
    used = gc.afterGC.heapStatistics.usedHeapSize;
  }
  return allocated + Math.max(0, v8.getHeapStatistics().used_heap_size - used);
}

/** The value below which a fraction `p` of the total weight lies. */
function weightedPercentile(samples: [value: number, weight: number][], p: number): number {
  const sorted = [...samples].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, w]) => sum + w, 0);
  let seen = 0;
  for (const [value, weight] of sorted) {
    seen += weight;
    if (seen >= p * total) return Math.round(value);
  }
  return 0;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string', default: DATA_DIR_DEFAULT },
      port: { type: 'string', default: String(PORT_DEFAULT) },
      /** The FIX 4.4 bridge for affiliated venues. */
      'fix-port': { type: 'string', default: String(FIX_PORT_DEFAULT) },
      'demo-keys': { type: 'string', default: '2' },
      /**
       * On stop, write to this file (benchmarks read it): commit latency and each order's time in
       * the node (frame in → durable, report queued) as percentiles in µs, and CPU per command.
       */
      stats: { type: 'string' },
      /** Serve wss:// with this certificate (PEM); needs --tls-key. */
      'tls-cert': { type: 'string' },
      /** The certificate's private key (PEM). */
      'tls-key': { type: 'string' },
      /** on: the simulated price sources run (the demo's perpetuals); off: none does (a quiet node). */
      'demo-sources': { type: 'string', default: 'on' },
      /**
       * The public site's live connections per client address (default SITE_CONNECTIONS_PER_ADDRESS_MAX):
       * behind a reverse proxy every visitor comes from the proxy's address, so raise it there.
       */
      'site-per-address': { type: 'string', default: String(SITE_CONNECTIONS_PER_ADDRESS_MAX) },
    },
  });
  const dataDir = values.data!;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number, got ${values.port}`);
    process.exit(2);
  }
  const fixPortAsked = Number(values['fix-port']);
  if (!Number.isInteger(fixPortAsked) || fixPortAsked < 0 || fixPortAsked > 65535) {
    console.error(`--fix-port must be a port number, got ${values['fix-port']}`);
    process.exit(2);
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    console.error('--tls-cert and --tls-key go together');
    process.exit(2);
  }
  if (values['demo-sources'] !== 'on' && values['demo-sources'] !== 'off') {
    console.error(`--demo-sources must be on or off, got ${values['demo-sources']}`);
    process.exit(2);
  }
  const sitePerAddress = Number(values['site-per-address']);
  if (!Number.isInteger(sitePerAddress) || sitePerAddress < 1 || sitePerAddress > SITE_CONNECTIONS_MAX) {
    console.error(`--site-per-address must be a whole number from 1 to ${SITE_CONNECTIONS_MAX} (the live channel's connections), got ${values['site-per-address']}`);
    process.exit(2);
  }
  const tls = values['tls-cert'] ? { certFile: values['tls-cert'], keyFile: values['tls-key']! } : undefined;
  for (const file of tls ? [tls.certFile, tls.keyFile] : []) {
    if (!existsSync(file)) {
      console.error(`cannot start the node: ${file} does not exist`);
      process.exit(2);
    }
  }
  // The log (JSON lines on stdout) from here on; a wrong argument above is said on stderr alone.
  const log = nodeLog();
  const metrics = new NodeMetrics();
  log.info({ event: 'start', data: dataDir, port, fixPort: fixPortAsked, tls: tls !== undefined }, 'starting');
  let runtime: NodeRuntime;
  let gateway: GatewayServer;
  let fix: FixGateway;
  let listening: number;
  let fixPort: number;
  let venuesFile: string;
  let fresh: boolean;
  try {
    ({ runtime, fresh } = await startNode(dataDir, Math.max(2, Number(values['demo-keys']) || 2), values.stats ? (n, micros) => {
      metrics.commit(n, micros);
      commitWeights.push(micros, n);
      committedCommands += n;
      if (!cpuAtFirstCommit) {
        cpuAtFirstCommit = process.cpuUsage();
        commandsAtFirstCommit = committedCommands;
      }
    } : metrics.commit));
    // Both attach while the node is idle (before any gateway can enqueue).
    metrics.observe(runtime);
    logNotableEvents(runtime, log);
    const wsLatency = metrics.orderLatency('ws');
    gateway = new GatewayServer(runtime, {
      tls,
      // The public disclosure site (OPS-3) on the same port: http://127.0.0.1:PORT/.
      site: { connectionsPerAddressMax: sitePerAddress },
      onOrderLatency: values.stats ? (micros: number) => {
        wsLatency(micros);
        orderMicros.push(micros);
      } : wsLatency,
    });
    metrics.watch(gateway);
    listening = await gateway.listen(port);
    const fixLatency = metrics.orderLatency('fix');
    fix = new FixGateway(runtime, {
      tls,
      onOrderLatency: values.stats ? (micros: number) => {
        fixLatency(micros);
        orderMicros.push(micros);
      } : fixLatency,
    });
    metrics.watchFix(fix);
    fixPort = await fix.listen(fixPortAsked);
    venuesFile = await demoVenues(runtime, dataDir, fixPort);
  } catch (e) {
    // In the log, and on stderr for the person (or script) that started it.
    log.fatal({ event: 'start-failed', data: dataDir, error: (e as Error).message }, `cannot start the node on ${dataDir}`);
    console.error(`cannot start the node on ${dataDir}: ${(e as Error).message}`);
    // The data folder's lock goes with the process.
    process.exit(2);
  }
  // A broken invariant or a failed commit stops the node: nothing more is acknowledged, the batch
  // at fault was never written, and a restart recovers to the last good batch. Exit so that a
  // supervisor restarts it.
  runtime.attach({
    failed: (error) => {
      log.fatal({ event: 'failed', reason: error.message }, 'the node stopped: nothing more is acknowledged; a restart recovers to the last good batch');
      setTimeout(() => process.exit(1), 100);
    },
  });
  const keepAlive = setInterval(() => {}, 1 << 30);
  let sources: DemoSources | undefined;
  const stop = async (signal: string) => {
    clearInterval(keepAlive);
    sources?.stop();
    gateway.close();
    await fix.close();
    await runtime.close();
    if (values.stats) {
      const allocated = allocatedBytes();
      await stopAllocProfile();
      gcObserver.disconnect();
      gcPausesUs.sort((a, b) => a - b);
      const cpu = process.cpuUsage(cpuAtFirstCommit);
      const commandsMeasured = Math.max(1, committedCommands - commandsAtFirstCommit);
      const commits = commitWeights.sorted();
      const commitMicros = commits.map(([micros]) => micros);
      const inNode = orderMicros.sorted().map(([micros]) => micros);
      const pct = (p: number, of = commitMicros) => Math.round(of[Math.min(of.length - 1, Math.floor(p * of.length))] ?? 0);
      writeFileSync(values.stats, JSON.stringify({
        commits: commitMicros.length, commands: committedCommands - commandsAtFirstCommit, commit_p50_us: pct(0.5), commit_p99_us: pct(0.99),
        commit_per_order_p99_us: weightedPercentile(commits, 0.99),
        order_in_node_p50_us: pct(0.5, inNode), order_in_node_p99_us: pct(0.99, inNode),
        loop_delay_p99_us: Math.round(loopDelay.percentile(99) / 1000), loop_delay_max_us: Math.round(loopDelay.max / 1000),
        cpu_us_per_command: Math.round((10 * (cpu.user + cpu.system)) / commandsMeasured) / 10,
        alloc_bytes_per_command: Math.round(allocated / commandsMeasured),
        gc_pauses: gcPausesUs.length, gc_pause_p99_us: pct(0.99, gcPausesUs), gc_pause_max_us: Math.round(gcPausesUs[gcPausesUs.length - 1] ?? 0),
        gc_by_kind: Object.fromEntries([...gcByKind].map(([kind, [n, total, max]]) => [kind, { n, mean_us: Math.round(total / n), max_us: Math.round(max) }])),
      }) + '\n');
    }
    log.info({ event: 'stopped', signal, lastSequence: runtime.lastSequence }, 'stopped');
    // Everything is closed and durable: idle HTTP keep-alive connections (a browser's, a scraper's)
    // must not hold the process open.
    process.exit(0);
  };
  if (values.stats) {
    loopDelay.enable();
    gcObserver.observe({ entryTypes: ['gc'] });
    startGcWindow();
    process.on('SIGUSR2', () => {
      startGcWindow();
      commitWeights.length = 0;
      orderMicros.length = 0;
      loopDelay.reset();
      cpuAtFirstCommit = process.cpuUsage();
      commandsAtFirstCommit = committedCommands;
    });
  }
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  // Ready only once recovery is done and the stop handlers are in place. Tests, benchmarks and
  // supervisors find this line by its "ready" event and read its fields.
  log.info({
    event: 'ready',
    data: dataDir,
    url: gateway.url(listening),
    keys: join(dataDir, 'demo-keys.json'),
    fix: `127.0.0.1:${fixPort}`,
    venues: venuesFile,
    instruments: runtime.config.instruments.map((l) => l.symbol),
    lastSequence: runtime.lastSequence,
    openOrders: runtime.pipeline.orders.size,
    metrics: gateway.url(listening).replace(/^ws/, 'http').replace(/\/ws$/, '/metrics'),
    site: gateway.url(listening).replace(/^ws/, 'http').replace(/\/ws$/, '/'),
  }, 'ready');
  // After the ready line (whose sequence is then what recovery and the set-up left): the sources
  // log on over the websocket like any outside source.
  if (values['demo-sources'] === 'on') {
    try {
      sources = await demoPerps(runtime, dataDir, gateway.url(listening), fresh, log, tls ? readFileSync(tls.certFile) : undefined);
    } catch (e) {
      log.error({ event: 'demo-sources', error: (e as Error).message }, 'the demo price sources could not start');
    }
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) void main();
