// The site's live channel: a websocket at /site on the node's port. A page follows one or more
// topics (`/site?topics=markets`); on open it gets every fragment of them, then — at most every
// pushMs, and only after a durable batch — the fragments that changed, as JSON {seq, fragments}:
// each an element the page swaps in by id. One render and one serialization per topic per push,
// published to every follower at once (uWS topics). Bounded: connections in all and per source
// address (past either the upgrade is refused with 503), nothing accepted from clients, and a
// follower with more than slowConsumerBytes unsent is closed as a slow consumer.
import uWS from 'uWebSockets.js';
import {
  SITE_CONNECTIONS_MAX, SITE_CONNECTIONS_PER_ADDRESS_MAX, SITE_IDLE_TIMEOUT_S, SITE_INBOUND_BYTES_MAX, SITE_PUSH_MS, SITE_SLOW_CONSUMER_BYTES,
} from './limits.js';
import { TOPICS, type Pages, type Topic } from './pages.js';
import type { Tape } from './tape.js';

export interface LiveOptions {
  connectionsMax?: number;
  connectionsPerAddressMax?: number;
  slowConsumerBytes?: number;
  pushMs?: number;
}

interface Follower { address: string; topics: Topic[]; open: boolean }
type FollowerWs = uWS.WebSocket<Follower>;

export interface LiveStats { pushes: number; refused: number; slowConsumers: number; errors: number }

const channel = (t: Topic) => `site.${t}`;

export class Live {
  private app: uWS.TemplatedApp | undefined;
  private readonly followers = new Set<FollowerWs>();
  private readonly perAddress = new Map<string, number>();
  /** Per topic, each fragment as last published (what its followers hold). */
  private readonly published = new Map<Topic, Map<string, string>>();
  private timer: NodeJS.Timeout | undefined;
  private lastPushMs = 0;
  private readonly connectionsMax: number;
  private readonly connectionsPerAddressMax: number;
  private readonly slowConsumerBytes: number;
  private readonly pushMs: number;
  readonly stats: LiveStats = { pushes: 0, refused: 0, slowConsumers: 0, errors: 0 };

  constructor(private readonly pages: Pages, private readonly tape: Tape, private readonly sequence: () => number, options: LiveOptions = {}) {
    this.connectionsMax = options.connectionsMax ?? SITE_CONNECTIONS_MAX;
    this.connectionsPerAddressMax = options.connectionsPerAddressMax ?? SITE_CONNECTIONS_PER_ADDRESS_MAX;
    this.slowConsumerBytes = options.slowConsumerBytes ?? SITE_SLOW_CONSUMER_BYTES;
    this.pushMs = options.pushMs ?? SITE_PUSH_MS;
  }

  get connections(): number { return this.followers.size; }

  mount(app: uWS.TemplatedApp): void {
    this.app = app;
    app.ws<Follower>('/site', {
      compression: uWS.DISABLED,
      maxPayloadLength: SITE_INBOUND_BYTES_MAX,
      idleTimeout: SITE_IDLE_TIMEOUT_S,
      maxBackpressure: 2 * this.slowConsumerBytes,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      open: (ws) => this.open(ws),
      message: (ws) => this.end(ws, 1008, 'the site channel takes no messages'),
      drain: (ws) => this.checkBackpressure(ws),
      close: (ws) => this.closed(ws),
    });
  }

  private upgrade(res: uWS.HttpResponse, req: uWS.HttpRequest, context: uWS.us_socket_context_t): void {
    const asked = (req.getQuery('topics') ?? '').split(',');
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const address = Buffer.from(res.getRemoteAddressAsText()).toString();
    if (asked.length > TOPICS.length || !asked.every((t) => (TOPICS as readonly string[]).includes(t))) {
      res.writeStatus('400 Bad Request').writeHeader('Content-Type', 'text/plain; charset=utf-8').end(`topics must be one or more of ${TOPICS.join(', ')}\n`);
      return;
    }
    if (this.followers.size >= this.connectionsMax || (this.perAddress.get(address) ?? 0) >= this.connectionsPerAddressMax) {
      this.stats.refused++;
      res.writeStatus('503 Service Unavailable').writeHeader('Content-Type', 'text/plain; charset=utf-8').end('too many live connections: try again later\n');
      return;
    }
    res.upgrade<Follower>({ address, topics: [...new Set(asked as Topic[])], open: true }, key, protocol, extensions, context);
  }

  private open(ws: FollowerWs): void {
    const f = ws.getUserData();
    const n = this.perAddress.get(f.address) ?? 0;
    if (this.followers.size >= this.connectionsMax || n >= this.connectionsPerAddressMax) {
      // Several upgrades may have passed the check before these opened.
      this.stats.refused++;
      f.open = false;
      ws.end(1013, 'too many live connections');
      return;
    }
    this.followers.add(ws);
    this.perAddress.set(f.address, n + 1);
    // A failure rendering this follower's first view ends its connection, never the node.
    try {
      const fragments: Record<string, string> = {};
      for (const topic of f.topics) {
        for (const [id, h] of this.pages.fragments(topic)) fragments[id] = h.text;
        ws.subscribe(channel(topic));
      }
      ws.send(JSON.stringify({ seq: this.sequence(), fragments }), false);
      this.checkBackpressure(ws);
    } catch (e) {
      this.stats.errors++;
      console.error('junction site: internal error opening a live connection:', e);
      this.end(ws, 1011, 'internal error');
    }
  }

  private closed(ws: FollowerWs): void {
    const f = ws.getUserData();
    f.open = false;
    if (!this.followers.delete(ws)) return;
    const n = (this.perAddress.get(f.address) ?? 1) - 1;
    if (n <= 0) this.perAddress.delete(f.address);
    else this.perAddress.set(f.address, n);
  }

  private end(ws: FollowerWs, code: number, reason: string): void {
    const f = ws.getUserData();
    if (!f.open) return;
    f.open = false;
    ws.end(code, reason);
  }

  private checkBackpressure(ws: FollowerWs): void {
    if (ws.getUserData().open && ws.getBufferedAmount() > this.slowConsumerBytes) {
      this.stats.slowConsumers++;
      this.end(ws, 1008, `slow consumer: over ${this.slowConsumerBytes} bytes unsent`);
    }
  }

  /** A batch became durable: a push is due, no sooner than pushMs after the last one. */
  schedule(): void {
    if (this.timer || this.followers.size === 0 || !this.app) return;
    const wait = Math.max(0, this.lastPushMs + this.pushMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // A failure rendering a push skips it (the next batch brings another), never stops the node.
      try {
        this.push();
      } catch (e) {
        this.stats.errors++;
        console.error('junction site: internal error pushing live updates:', e);
      }
    }, wait);
    this.timer.unref();
  }

  private push(): void {
    const app = this.app;
    if (!app) return;
    this.lastPushMs = Date.now();
    const { durable, instruments } = this.tape.take();
    if (!durable) return;
    for (const topic of TOPICS) {
      if (app.numSubscribers(channel(topic)) === 0) {
        this.published.delete(topic);
        continue;
      }
      const last = this.published.get(topic) ?? new Map<string, string>();
      this.published.set(topic, last);
      const changed: Record<string, string> = {};
      let any = false;
      for (const [id, h] of this.pages.fragments(topic, topic === 'markets' ? instruments : undefined)) {
        if (last.get(id) === h.text) continue;
        last.set(id, h.text);
        changed[id] = h.text;
        // The sequence alone moving is no news.
        if (id !== 'asof') any = true;
      }
      if (!any) continue;
      this.stats.pushes++;
      app.publish(channel(topic), JSON.stringify({ seq: this.sequence(), fragments: changed }), false);
    }
    for (const ws of this.followers) this.checkBackpressure(ws);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const ws of [...this.followers]) this.end(ws, 1001, 'the node is stopping');
    this.app = undefined;
  }
}
