// Connection bounds: every connection counts against connectionsMax; one that has not logged on
// or subscribed also against the unattached bounds (per source address, refused past it; and in
// all, where the oldest of the address holding the most is displaced) and is closed after
// attachMs; one subscribed to public data without a logon against the public bounds. So sockets
// that never log on cannot lock traders out.
import { assert } from '../../assert.js';
import type { Connection, GatewayStats, Ws } from './connection.js';
import type { Outbox } from './outbox.js';

export interface ConnectionLimits {
  connectionsMax: number;
  attachMs: number;
  unattachedMax: number;
  unattachedPerAddressMax: number;
  publicMax: number;
  publicPerAddressMax: number;
}

export class ConnectionBounds {
  private connections = 0;
  /** Connections that have neither logged on nor subscribed yet, oldest first. */
  private readonly unattached = new Set<Ws>();
  /** Of those, how many per source address. */
  private readonly unattachedByAddress = new Map<string, number>();
  /** Connections subscribed to public data without a logon, per source address, and in all. */
  private readonly publicByAddress = new Map<string, number>();
  private publicCount = 0;

  constructor(private readonly limits: ConnectionLimits, private readonly outbox: Outbox, private readonly stats: GatewayStats) {}

  /** Connections not yet logged on or subscribed (what the flood bounds count). */
  get unattachedCount(): number { return this.unattached.size; }

  /** A new connection: counted, or closed with 1013 and the reason. */
  open(ws: Ws): void {
    const address = Buffer.from(ws.getRemoteAddressAsText()).toString();
    const refuse = (reason: string) => {
      this.stats.connectionsRefused++;
      ws.end(1013, reason);
    };
    if (this.connections >= this.limits.connectionsMax) return refuse(`too many connections (${this.limits.connectionsMax}); try again later`);
    if ((this.unattachedByAddress.get(address) ?? 0) >= this.limits.unattachedPerAddressMax) {
      return refuse(`${this.limits.unattachedPerAddressMax} connections from ${address} not logged on yet; log on first`.slice(0, 120));
    }
    if (this.unattached.size >= this.limits.unattachedMax) {
      const victim = this.displaceable();
      this.attached(victim);
      this.stats.connectionsDisplaced++;
      this.outbox.end(victim, 1013, 'displaced: too many connections not logged on; log on at once after connecting');
    }
    this.connections++;
    const conn = ws.getUserData();
    conn.open = true;
    conn.counted = true;
    conn.openedMs = Date.now();
    conn.address = address;
    this.unattached.add(ws);
    this.unattachedByAddress.set(address, (this.unattachedByAddress.get(address) ?? 0) + 1);
  }

  /** A connection closed: false if it was never counted (refused at open). */
  close(ws: Ws): boolean {
    const conn = ws.getUserData();
    if (!conn.counted) return false;
    conn.counted = false;
    this.connections--;
    this.attached(ws);
    this.leavePublic(conn);
    conn.open = false;
    return true;
  }

  /**
   * Which unattached connection gives way to a new one: the oldest of the address holding the most,
   * so a flood displaces itself before a lone client that is about to log on.
   */
  private displaceable(): Ws {
    let most = 0;
    for (const n of this.unattachedByAddress.values()) most = Math.max(most, n);
    for (const ws of this.unattached) if (this.unattachedByAddress.get(ws.getUserData().address!) === most) return ws;
    throw new Error('invariant broken: no unattached connection to displace');
  }

  /** The connection logged on, subscribed or closed: it no longer counts as unattached. */
  attached(ws: Ws): void {
    if (!this.unattached.delete(ws)) return;
    const address = ws.getUserData().address;
    assert(address !== undefined, 'an unattached connection has an address');
    const n = this.unattachedByAddress.get(address)! - 1;
    if (n === 0) this.unattachedByAddress.delete(address);
    else this.unattachedByAddress.set(address, n);
  }

  /** A connection subscribing without a logon: within the public-data bounds, or closed (false). */
  admitPublic(ws: Ws): boolean {
    const conn = ws.getUserData();
    if (conn.session || conn.public) return true;
    const address = conn.address!;
    const fromAddress = this.publicByAddress.get(address) ?? 0;
    if (this.publicCount >= this.limits.publicMax || fromAddress >= this.limits.publicPerAddressMax) {
      this.stats.connectionsRefused++;
      const why = this.publicCount >= this.limits.publicMax ? `${this.limits.publicMax} in all` : `${this.limits.publicPerAddressMax} from ${address}`;
      this.outbox.end(ws, 1013, `too many public-data connections without a logon (${why}); log on or try later`.slice(0, 120));
      return false;
    }
    conn.public = true;
    this.publicCount++;
    this.publicByAddress.set(address, fromAddress + 1);
    return true;
  }

  /** The connection logged on or closed: it no longer counts as public-only. */
  leavePublic(conn: Connection): void {
    if (!conn.public) return;
    conn.public = false;
    this.publicCount--;
    const n = this.publicByAddress.get(conn.address!)! - 1;
    if (n === 0) this.publicByAddress.delete(conn.address!);
    else this.publicByAddress.set(conn.address!, n);
  }

  /** Closes connections that neither logged on nor subscribed within attachMs. */
  tick(now: number): void {
    for (const ws of this.unattached) {
      if (now - ws.getUserData().openedMs! < this.limits.attachMs) continue;
      this.attached(ws);
      this.outbox.end(ws, 1008, `no logon or subscription within ${this.limits.attachMs} ms`);
    }
  }
}
