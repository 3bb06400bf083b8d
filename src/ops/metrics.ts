// The node's metrics, served as Prometheus text at GET /metrics on the websocket port. What happens
// per order or per batch costs an increment into preallocated typed arrays (the batch listener, the
// commit and order-latency callbacks); everything read from state — queue depth, sessions, venue
// exposure, the funds, perpetuals' marks — is read by collect() callbacks when a scrape asks.
// Label sets are bounded: command types and reasons come from fixed registries, venues and
// instruments from the node's configuration, permissions from the key store's four.
import type uWS from 'uWebSockets.js';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { FixGateway } from '../gateway/fix/gateway.js';
import type { Permission } from '../gateway/ws/key-store.js';
import type { GatewayServer } from '../gateway/ws/server.js';
import { balanceKey } from '../ledger/ledger.js';
import type { NodeCommand } from '../pipeline/commands.js';
import type { MarketView } from '../perps/perps.js';
import type { Stage } from '../perps/liquidation.js';
import type { AppliedBatch, NodeRuntime } from '../pipeline/runtime.js';
import * as sbe from '../protocol/codec.js';
import { rejectName } from '../risk/reasons.js';
import type { Exposure, Venues } from '../venues/venues.js';
import { FixedHistogram, type HistogramSeries } from './histogram.js';

/**
 * The command types the node sequences, in the order their counters are kept; `clock` is the node's
 * own timer command (an admin action: funding samples, licence ends, settlement deadlines), counted
 * apart from operators' commands.
 */
const COMMANDS: readonly (NodeCommand['type'] | 'clock')[] = ['order', 'cancel', 'amend', 'massCancel', 'deposit', 'withdraw', 'admin', 'price', 'clock'];
const CLOCK = COMMANDS.indexOf('clock');
const COMMAND_INDEX: Readonly<Record<string, number>> = Object.fromEntries(COMMANDS.map((c, i) => [c, i]));
/** A counter that, when scraped, is the sum of one figure over every item there is then (each gateway, each bridge). */
function summedCounter<T>(registers: Registry[], items: () => readonly T[], name: string, help: string, read: (item: T) => number): void {
  const c: Counter = new Counter({ name, help, registers, collect: () => {
    c.reset();
    c.inc(items().reduce((total, item) => total + read(item), 0));
  } });
}

/** The liquidation waterfall's stages, in order (src/perps/liquidation.ts). */
const WATERFALL_STAGES: readonly Stage[] = ['cancel', 'book', 'backstop', 'insurance', 'adl', 'cover', 'collateral'];
/** Reason codes are below 400 (core 1-99, node 100-199, session 200-299, cancel 300-399). */
export const REASON_CODES = 400;
const PERMISSIONS: readonly Permission[] = ['trade', 'read', 'operator', 'price-source'];

/** Commit latency and order latency bounds, in seconds: 50 µs to 1 s. */
const SECONDS_BOUNDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Commands per batch: powers of two up to the sequencer's batch limit (BATCH_COMMANDS_MAX). */
const BATCH_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

const nodeMetrics = new WeakMap<NodeRuntime, NodeMetrics>();

/** The metrics a node was given (what its gateways' /metrics route serves), if any. */
export function metricsOf(node: NodeRuntime): NodeMetrics | undefined {
  return nodeMetrics.get(node);
}

/**
 * Answers GET /metrics on a gateway of `node` (uWebSockets.js): the registry as Prometheus text, or
 * 404 on a node that was given no metrics. Each answer closes its connection: a scraper's idle
 * keep-alive connection would otherwise hold a stopping node's event loop open.
 */
export function serveMetrics(res: uWS.HttpResponse, req: uWS.HttpRequest, node: NodeRuntime): void {
  const metrics = metricsOf(node);
  if (!metrics) return void res.writeStatus('404 Not Found').end('this node keeps no metrics\n', true);
  // Venue exposure and the reserve are operators' figures: with JUNCTION_METRICS_TOKEN set, a scrape
  // must bring it (Authorization: Bearer …), as a port reachable by the public through the site's
  // proxy should require.
  const token = process.env.JUNCTION_METRICS_TOKEN;
  if (token && req.getHeader('authorization') !== `Bearer ${token}`) {
    return void res.writeStatus('401 Unauthorized').writeHeader('WWW-Authenticate', 'Bearer').end('a bearer token is required for /metrics\n', true);
  }
  let aborted = false;
  res.onAborted(() => (aborted = true));
  metrics.text().then((text) => {
    if (!aborted) res.cork(() => res.writeHeader('Content-Type', metrics.registry.contentType).end(text, true));
  }, (e: Error) => {
    if (!aborted) res.cork(() => res.writeStatus('500 Internal Server Error').end(`metrics failed: ${e.message}\n`, true));
  });
}

/** What the reserve account holds of an asset (0 without a reserve account), read without touching the ledger. */
function reserveHolds(node: NodeRuntime, asset: number): number {
  const account = node.pipeline.venues.reserveAccount();
  return account === undefined ? 0 : node.pipeline.ledger.balanceOf(balanceKey(account, asset)).available;
}

/** A money figure in whole units of its asset (the ledger keeps integers of 10^-scale). */
function whole(amount: number, scale: number): number {
  return amount / 10 ** scale;
}

export class NodeMetrics {
  readonly registry = new Registry();
  /** Commands applied and durable, by type; refusals by type and reason code. */
  private readonly commands = new Float64Array(COMMANDS.length + 1);
  private readonly rejects = new Float64Array((COMMANDS.length + 1) * REASON_CODES);
  private readonly batchCommands: HistogramSeries;
  private readonly commitSeconds: HistogramSeries;
  private readonly orderSeconds: { ws: HistogramSeries; fix: HistogramSeries };
  private node: NodeRuntime | undefined;
  private readonly gateways: GatewayServer[] = [];
  private readonly fixGateways: FixGateway[] = [];

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'junction_' });
    this.batchCommands = new FixedHistogram(this.registry, 'junction_batch_size_commands', 'Commands per committed batch.', BATCH_BOUNDS).series();
    this.commitSeconds = new FixedHistogram(this.registry, 'junction_commit_seconds',
      'Each batch\'s commit: from handing it to LMDB to its transaction flushed to disk.', SECONDS_BOUNDS).series();
    const orders = new FixedHistogram(this.registry, 'junction_order_durable_seconds',
      'Each new order\'s time in the node: from its frame (ws) or message (fix) arriving to its report handed to the socket, durable.', SECONDS_BOUNDS);
    this.orderSeconds = { ws: orders.series({ gateway: 'ws' }), fix: orders.series({ gateway: 'fix' }) };
    this.commandSeries(registers);
    this.nodeSeries(registers);
    this.gatewaySeries(registers);
    this.fixSeries(registers);
    this.venueSeries(registers);
    this.perpSeries(registers);
  }

  /** Commands and the node's refusals, counted from the durable batches. */
  private commandSeries(registers: Registry[]): void {
    const commands: Counter<'command'> = new Counter({
      name: 'junction_commands_total', help: 'Commands sequenced and durable, by type (new orders are command="order").', labelNames: ['command'], registers,
      collect: () => {
        commands.reset();
        for (let t = 0; t <= COMMANDS.length; t++) {
          if (t < COMMANDS.length || this.commands[t] > 0) commands.inc({ command: COMMANDS[t] ?? 'other' }, this.commands[t]);
        }
      },
    });
    const rejects: Counter<'command' | 'reason'> = new Counter({
      name: 'junction_rejects_total', help: 'Commands the node refused, by type and reason name (src/risk/reasons.ts).', labelNames: ['command', 'reason'], registers,
      collect: () => {
        rejects.reset();
        for (let t = 0; t <= COMMANDS.length; t++) {
          for (let r = 0; r < REASON_CODES; r++) {
            const n = this.rejects[t * REASON_CODES + r];
            if (n > 0) rejects.inc({ command: COMMANDS[t] ?? 'other', reason: rejectName(r) }, n);
          }
        }
      },
    });
  }

  /** The sequencer's queue and what the node holds, read at the scrape. */
  private nodeSeries(registers: Registry[]): void {
    const state = (name: string, help: string, read: (node: NodeRuntime) => number) => {
      const g: Gauge = new Gauge({ name, help, registers, collect: () => { if (this.node) g.set(read(this.node)); } });
    };
    state('junction_sequencer_queued_commands', 'Commands queued and not yet in a batch.', (n) => n.queued);
    state('junction_last_sequence', 'The last sequence number applied.', (n) => n.lastSequence);
    state('junction_open_orders', 'Orders open in the books.', (n) => n.pipeline.orders.size);
  }

  /** The websocket gateways' sessions and counters (their GatewayStats). */
  private gatewaySeries(registers: Registry[]): void {
    const sessions: Gauge<'permission'> = new Gauge({
      name: 'junction_ws_sessions', help: 'Websocket sessions logged on, by their key\'s permission.', labelNames: ['permission'], registers,
      collect: () => {
        const counts = this.gateways.map((g) => g.sessionCounts());
        for (const permission of PERMISSIONS) sessions.set({ permission }, counts.reduce((n, c) => n + c[permission], 0));
      },
    });
    const sum = (name: string, help: string, read: (g: GatewayServer) => number) => summedCounter(registers, () => this.gateways, name, help, read);
    sum('junction_ws_frames_total', 'Websocket frames received.', (g) => g.stats.frames);
    sum('junction_ws_unparseable_frames_total', 'Websocket frames that did not decode (their connection closed with 1007).', (g) => g.stats.unparseable);
    sum('junction_slow_consumer_drops_total', 'Websocket connections closed as slow consumers (too much unsent).', (g) => g.stats.slowConsumers);
    sum('junction_ws_internal_errors_total', 'Faults of the gateway\'s own (each closed one connection with 1011).', (g) => g.stats.internalErrors);
    sum('junction_ws_connections_refused_total', 'Websocket connections refused by the connection bounds.', (g) => g.stats.connectionsRefused);
    sum('junction_ws_connections_displaced_total', 'Websocket connections closed to make room while too many had not logged on.', (g) => g.stats.connectionsDisplaced);
    const sessionRejects: Counter<'reason'> = new Counter({
      name: 'junction_ws_session_rejects_total', help: 'SessionRejects sent, by reason name (Busy: the node\'s queue was past the intake limit).', labelNames: ['reason'], registers,
      collect: () => {
        sessionRejects.reset();
        for (let r = 0; r < REASON_CODES; r++) {
          let n = 0;
          for (const g of this.gateways) n += g.stats.sessionRejectsByReason?.[r] ?? 0;
          if (n > 0) sessionRejects.inc({ reason: sbe.RejectReasonNames[r] ?? rejectName(r) }, n);
        }
      },
    });
  }

  /** The FIX bridges' sessions and counters. */
  private fixSeries(registers: Registry[]): void {
    const fixSessions: Gauge = new Gauge({
      name: 'junction_fix_sessions', help: 'Venues logged on over FIX.', registers,
      collect: () => fixSessions.set(this.fixGateways.reduce((n, f) => n + f.venuesLoggedOn, 0)),
    });
    const fixConnections: Gauge = new Gauge({
      name: 'junction_fix_connections', help: 'FIX connections open, logged on or not.', registers,
      collect: () => fixConnections.set(this.fixGateways.reduce((n, f) => n + f.connections, 0)),
    });
    const fixSum = (name: string, help: string, read: (f: FixGateway) => number) => summedCounter(registers, () => this.fixGateways, name, help, read);
    fixSum('junction_fix_orders_total', 'New orders received over FIX.', (f) => f.stats.orders);
    fixSum('junction_fix_reports_total', 'Execution reports sent over FIX.', (f) => f.stats.reports);
    fixSum('junction_fix_garbled_total', 'FIX messages that did not frame (ignored, as the standard asks).', (f) => f.stats.garbled);
    fixSum('junction_fix_session_rejects_total', 'FIX session-level Rejects (3) sent.', (f) => f.stats.rejects);
    fixSum('junction_fix_resent_total', 'FIX messages resent on a ResendRequest.', (f) => f.stats.resent);
    fixSum('junction_fix_gap_fills_total', 'FIX SequenceResets (gap fills) sent.', (f) => f.stats.gapFills);
  }

  /** Venues' unsettled exposure against their limits, whether each may trade, the reserve fund. */
  private venueSeries(registers: Registry[]): void {
    // Each gauge reads the venues itself at the scrape (a few venues: exposure() is cheap).
    const perVenue = (name: string, help: string, read: (code: string, venues: Venues, e: Exposure, scale: number) => number, withAsset: boolean) => {
      const g: Gauge<'venue' | 'asset'> = new Gauge({
        name, help, labelNames: withAsset ? ['venue', 'asset'] : ['venue'], registers,
        collect: () => {
          g.reset();
          const node = this.node;
          if (!node) return;
          const venues = node.pipeline.venues;
          for (const code of venues.registry.venues.keys()) {
            const e = venues.exposure(code);
            const scale = node.pipeline.ledger.assets.find((a) => a.code === e.asset)?.scale ?? 0;
            g.set(withAsset ? { venue: code, asset: e.asset } : { venue: code }, read(code, venues, e, scale));
          }
        },
      });
    };
    perVenue('junction_venue_unsettled_exposure', 'A venue\'s unsettled exposure (SL-15), in whole units of its limit asset.', (_, __, e, scale) => whole(e.total, scale), true);
    perVenue('junction_venue_unsettled_limit', 'A venue\'s maximum unsettled limit, in whole units of its limit asset.', (_, __, e, scale) => whole(e.limit, scale), true);
    perVenue('junction_venue_exposure_ratio', 'A venue\'s unsettled exposure over its limit (1: at the limit).',
      (_, __, e) => (e.limit > 0 ? e.total / e.limit : e.total > 0 ? Infinity : 0), false);
    perVenue('junction_venue_trading', '1 while a venue may trade, 0 while it is suspended or not eligible.',
      (code, venues) => (venues.registry.venues.get(code)!.status === 'active' && !venues.blocked.has(code) ? 1 : 0), false);
    const perAsset = (name: string, help: string, read: (node: NodeRuntime, asset: string, index: number) => number) => {
      const g: Gauge<'asset'> = new Gauge({
        name, help, labelNames: ['asset'], registers,
        collect: () => {
          g.reset();
          const node = this.node;
          if (!node) return;
          node.pipeline.ledger.assets.forEach((a, index) => {
            // Only the assets the reserve holds or the venues' limits are in.
            if (reserveHolds(node, index) === 0 && node.pipeline.venues.limitsIn(a.code) === 0) return;
            g.set({ asset: a.code }, whole(read(node, a.code, index), a.scale));
          });
        },
      });
    };
    perAsset('junction_reserve_fund', 'The reserve fund (SL-17): its available balance, in whole units.', (node, _, index) => reserveHolds(node, index));
    perAsset('junction_reserve_required', 'What the reserve must cover: the sum of the venues\' unsettled limits in the asset, in whole units.',
      (node, asset) => node.pipeline.venues.limitsIn(asset));
  }

  /** The insurance fund's level and each perpetual's mark against its index. */
  private perpSeries(registers: Registry[]): void {
    const fund: Gauge<'asset'> = new Gauge({
      name: 'junction_insurance_fund', help: 'The perpetuals\' insurance fund level, in whole units of the settlement asset.', labelNames: ['asset'], registers,
      collect: () => {
        fund.reset();
        const node = this.node;
        if (!node?.pipeline.perps.active) return;
        const perps = node.pipeline.perps;
        const asset = node.pipeline.ledger.assets[perps.settle];
        fund.set({ asset: asset.code }, whole(perps.fundLevel(), asset.scale));
      },
    });
    const perProduct = (name: string, help: string, read: (m: MarketView) => number | undefined) => {
      const g: Gauge<'instrument'> = new Gauge({
        name, help, labelNames: ['instrument'], registers,
        collect: () => {
          g.reset();
          const perps = this.node?.pipeline.perps;
          if (!perps?.active) return;
          for (const id of perps.products.keys()) {
            const m = perps.marketView(id);
            const value = read(m);
            if (value !== undefined) g.set({ instrument: m.symbol }, value);
          }
        },
      });
    };
    perProduct('junction_perp_mark_index_deviation_bps',
      'A perpetual\'s mark against its index: (mark - index) / index, in basis points (absent until its index stands).',
      (m) => (m.index > 0 ? ((m.mark - m.index) / m.index) * 10_000 : undefined));
    perProduct('junction_perp_index_degraded', '1 while a perpetual\'s index has too few usable sources (positions may not open or grow).',
      (m) => (m.degraded ? 1 : 0));
    const steps: Counter<'stage'> = new Counter({
      name: 'junction_liquidation_steps_total',
      help: 'Liquidation waterfall steps in durable batches, by stage (PERP-6): cancel counts accounts taken into the waterfall; book, backstop, insurance and adl count closings; cover and collateral the fund\'s payments.',
      labelNames: ['stage'], registers,
      collect: () => {
        steps.reset();
        WATERFALL_STAGES.forEach((stage, i) => steps.inc({ stage }, this.waterfallSteps[i]));
      },
    });
  }

  /** RuntimeOptions.onCommit: a batch of `commands` became durable, its commit took `micros`. */
  readonly commit = (commands: number, micros: number): void => {
    this.batchCommands.observe(commands);
    this.commitSeconds.observe(micros / 1e6);
  };

  /** A gateway's onOrderLatency: one new order's time in the node, in µs. */
  orderLatency(gateway: 'ws' | 'fix'): (micros: number) => void {
    const series = this.orderSeconds[gateway];
    return (micros) => series.observe(micros / 1e6);
  }

  /**
   * Counts the node's commands and refusals (once durable) and reads its state at each scrape;
   * the node's gateways serve these metrics from then on. Attach while the node is idle. Returns
   * the detach.
   */
  observe(node: NodeRuntime): () => void {
    if (this.node) throw new Error('the metrics already observe a node');
    this.node = node;
    nodeMetrics.set(node, this);
    const detach = node.attach({ applied: (b) => this.applied(b), durable: (b) => this.durable(b) });
    return () => {
      detach();
      nodeMetrics.delete(node);
      this.node = undefined;
    };
  }

  /** A websocket gateway's sessions and counters join the metrics. */
  watch(gateway: GatewayServer): void {
    this.gateways.push(gateway);
  }

  watchFix(fix: FixGateway): void {
    this.fixGateways.push(fix);
  }

  /** The metrics as Prometheus text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Liquidation waterfall steps of batches applied, not yet durable, by batch: [stage index, quantity or amount]. */
  private readonly waterfallPending = new Map<number, number[]>();
  /** Per waterfall stage: positions' quantities closed, accounts' steps (the stage's count), in durable batches. */
  private readonly waterfallSteps = new Float64Array(WATERFALL_STAGES.length);

  private applied(b: AppliedBatch): void {
    const steps = this.node?.pipeline.perps.waterfall.steps;
    if (!steps || steps.length === 0) return;
    const counts = new Array<number>(WATERFALL_STAGES.length).fill(0);
    for (const s of steps) counts[WATERFALL_STAGES.indexOf(s.stage)]++;
    this.waterfallPending.set(b.batch, counts);
  }

  private durable(b: AppliedBatch): void {
    const counts = this.waterfallPending.get(b.batch);
    if (counts) {
      this.waterfallPending.delete(b.batch);
      counts.forEach((n, i) => (this.waterfallSteps[i] += n));
    }
    const { commands, outcomes } = b;
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i].command;
      const t = c.type === 'admin' && c.body.action === 'clock' ? CLOCK : COMMAND_INDEX[c.type] ?? COMMANDS.length;
      this.commands[t]++;
      const o = outcomes[i];
      if (!o.ok) {
        const reason = o.reason ?? 0;
        this.rejects[t * REASON_CODES + (reason >= 0 && reason < REASON_CODES ? reason : 0)]++;
      }
    }
  }
}
