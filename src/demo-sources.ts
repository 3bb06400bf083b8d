// Simulated index price sources for the demo (PERP-3), run inside `npm start`. Each logs on over
// the websocket with its own price-source API key, as an outside source would, and about once a
// second sends a signed PriceUpdate per underlying: one shared random walk (the "market", pulled
// gently back toward where it started so a long demo stays inside the books' price bands) plus a
// little noise of each source's own, so the index (their median) differs from every one of them.
// Math.random is fine here: the sources are outside the node, which sequences what they send.
import { JunctionClient } from './client/client.js';
import * as sbe from './protocol/codec.js';

export interface SourceKey { keyId: number; privateKeyPem: string }

/** How often each source sends its prices. */
export const SOURCE_PERIOD_MS = 1_000;
/** The market's move per period: normal, this many basis points (about 3% an hour, before the pull back)... */
const STEP_BPS = 5;
/** ...pulled back toward the start by this fraction of the distance each period (a half-life of about 12 minutes)... */
const PULL_PER_PERIOD = 0.001;
/** ...and each source's own noise around it, well inside the products' outlier threshold. */
const NOISE_BPS = 2;

/** A standard normal draw (Box-Muller). */
function normal(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

export class DemoSources {
  private readonly timer: NodeJS.Timeout;
  /** The market's log-distance from each underlying's start, in basis points. */
  private readonly drift = new Map<string, number>();
  /** Refusals already said once (a source keeps sending; its log should not fill with the same line). */
  private readonly said = new Set<string>();

  private constructor(private readonly clients: JunctionClient[], private readonly starts: ReadonlyMap<string, number>) {
    for (const underlying of starts.keys()) this.drift.set(underlying, 0);
    this.timer = setInterval(() => this.tick(), SOURCE_PERIOD_MS);
    this.timer.unref();
    this.tick();
  }

  /**
   * Logs each key on at `url` and starts sending. `starts`: each underlying's price to start from,
   * in quote units per whole unit (the index as the node last had it, or the reference price).
   */
  static async start(url: string, keys: readonly SourceKey[], starts: ReadonlyMap<string, number>, ca?: Buffer): Promise<DemoSources> {
    const clients = await Promise.all(keys.map((k) => JunctionClient.connect({ url, keyId: k.keyId, privateKeyPem: k.privateKeyPem, ca })));
    for (const c of clients) c.on('error', (e) => console.error(JSON.stringify({ event: 'demo-source', keyId: c.keyId, error: e.message })));
    return new DemoSources(clients, starts);
  }

  private tick(): void {
    const prices = new Map<string, number>();
    for (const [underlying, start] of this.starts) {
      const drift = this.drift.get(underlying)! * (1 - PULL_PER_PERIOD) + STEP_BPS * normal();
      this.drift.set(underlying, drift);
      prices.set(underlying, start * Math.exp(drift / 10_000));
    }
    for (const client of this.clients) {
      if (!client.connected) continue; // it reconnects by itself
      for (const [underlying, market] of prices) {
        const price = Math.max(1, Math.round(market * (1 + (NOISE_BPS * normal()) / 10_000)));
        client.submitPrice({ underlying, price }).then((ack) => {
          if (ack.ok !== sbe.BooleanType.True) this.sayOnce(client.keyId, `${sbe.RejectReasonNames[ack.reason]}: ${ack.text}`);
        }, (e: Error) => this.sayOnce(client.keyId, e.message));
      }
    }
  }

  private sayOnce(keyId: number, what: string): void {
    const key = `${keyId} ${what.replace(/\d+/g, 'N')}`;
    if (this.said.has(key)) return;
    this.said.add(key);
    console.error(JSON.stringify({ event: 'demo-source', keyId, refused: what }));
  }

  stop(): void {
    clearInterval(this.timer);
    for (const c of this.clients) c.close();
  }
}
