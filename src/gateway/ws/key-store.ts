// The gateway's own tables in the node's LMDB environment: API keys, and the logon nonces admitted
// (kept so a captured logon cannot be replayed after a restart either; see auth.ts).
import type { Database } from 'lmdb';
import type { LedgerStore } from '../../ledger/store.js';

/**
 * What an API key may do: trade for its account; only read it; administer the node (the venue
 * registry, venue clients' custody, perps' settings: AdminRequest); or send signed index prices as
 * a price source (PriceUpdate). Operator and price-source keys never trade.
 */
export type Permission = 'trade' | 'read' | 'operator' | 'price-source';
export const PERMISSIONS: readonly Permission[] = ['trade', 'read', 'operator', 'price-source'];

/** An API key: its Ed25519 public key (32 raw bytes), the account it acts for, what it may do. */
export interface ApiKeyRecord {
  keyId: number;
  account: number;
  publicKey: Uint8Array;
  permission: Permission;
  /** The person an operator key belongs to (four eyes are two people, not two keys). */
  person?: string;
}

export class KeyStore {
  private readonly apiKeys: Database<ApiKeyRecord, number>;
  /** Logon nonces admitted: [keyId, nonce] → when (ms). */
  private readonly logonNonces: Database<number, [number, number]>;

  constructor(store: Pick<LedgerStore<unknown, unknown>, 'openDB'>) {
    this.apiKeys = store.openDB('apiKeys', { keyEncoding: 'uint32' });
    this.logonNonces = store.openDB('logonNonces');
  }

  apiKey(keyId: number): ApiKeyRecord | undefined { return this.apiKeys.get(keyId); }

  /** Every API key, by id. */
  *allApiKeys(): IterableIterator<ApiKeyRecord> {
    for (const { value } of this.apiKeys.getRange({})) yield value;
  }

  /** Removes a key: its next logon is refused as an unknown key. Resolves once durable. */
  async removeApiKey(keyId: number): Promise<boolean> {
    if (this.apiKeys.get(keyId) === undefined) return false;
    await this.apiKeys.remove(keyId);
    return true;
  }

  async putApiKey(record: ApiKeyRecord): Promise<void> {
    await this.apiKeys.put(record.keyId, record);
  }

  /** Records an admitted logon nonce; resolves once it is durable. */
  async putLogonNonce(keyId: number, nonce: number, atMs: number): Promise<void> {
    await this.logonNonces.put([keyId, nonce], atMs);
  }

  /**
   * The logon nonces admitted since `sinceMs`, oldest first; older ones (stale by now: their logons
   * would be refused for their timestamps) are removed.
   */
  logonNoncesSince(sinceMs: number): [keyId: number, nonce: number, atMs: number][] {
    const recent: [number, number, number][] = [];
    for (const { key, value } of this.logonNonces.getRange({})) if (value >= sinceMs) recent.push([key[0], key[1], value]);
    this.pruneLogonNonces(sinceMs);
    return recent.sort((a, b) => a[2] - b[2]);
  }

  /** Removes logon nonces admitted before `beforeMs` (in the background). */
  pruneLogonNonces(beforeMs: number): void {
    const stale: [number, number][] = [];
    for (const { key, value } of this.logonNonces.getRange({})) if (value < beforeMs) stale.push(key);
    if (stale.length > 0) void this.logonNonces.transaction(() => { for (const key of stale) this.logonNonces.remove(key); });
  }
}
