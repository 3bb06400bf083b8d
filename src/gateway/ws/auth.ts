// Logon authentication: the client signs the 24 bytes keyId ‖ timestampNs ‖ nonce (little-endian
// u64s, exactly as they sit in the Logon message) with its Ed25519 key. A logon whose timestamp is
// more than LOGON_SKEW_MS from the node's clock, or whose (key, nonce) was seen within that
// window, is refused. The nonces seen are stored durably (the gateway completes a logon only once
// its nonce is), and reloaded on start, so a captured logon cannot be replayed after a restart.
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

export const LOGON_SKEW_MS = 30_000;
/** Remembered (key, nonce) pairs; past this the oldest are dropped (they are stale by then). */
export const NONCES_MAX = 1 << 20;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function logonPayload(keyId: number, timestampNs: bigint, nonce: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeBigUInt64LE(BigInt(keyId), 0);
  b.writeBigUInt64LE(timestampNs, 8);
  b.writeBigUInt64LE(BigInt(nonce), 16);
  return b;
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function rawPublicKey(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length));
}

/** A new key pair: the raw public key for the node, the PKCS#8 PEM private key for the client. */
export function newApiKeyPair(): { publicKey: Uint8Array; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: rawPublicKey(publicKey), privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

export function signLogon(privateKeyPem: string, keyId: number, timestampNs: bigint, nonce: number): Uint8Array {
  return new Uint8Array(sign(null, logonPayload(keyId, timestampNs, nonce), privateKeyPem));
}

/** Why a logon is refused: the session range of the registry (sbe.RejectReason). */
export type LogonRefusal = 220 | 221 | 222 | 223;
export const LOGON_REFUSAL_TEXT: Readonly<Record<LogonRefusal, string>> = {
  220: 'unknown API key', 221: 'signature does not verify', 222: 'timestamp too far from the node clock', 223: 'nonce already used',
};

export class NonceWindow {
  private readonly seen = new Map<string, number>();

  /** Remembers the nonces a previous run admitted (keyId, nonce, when), oldest first. */
  load(entries: Iterable<[keyId: number, nonce: number, atMs: number]>): void {
    for (const [keyId, nonce, atMs] of entries) this.seen.set(`${keyId}:${nonce}`, atMs);
  }

  /** True when (keyId, nonce) is new; remembers it. */
  admit(keyId: number, nonce: number, nowMs: number): boolean {
    const key = `${keyId}:${nonce}`;
    if (this.seen.has(key)) return false;
    this.seen.set(key, nowMs);
    if (this.seen.size > NONCES_MAX) {
      for (const [k, at] of this.seen) {
        if (nowMs - at <= 2 * LOGON_SKEW_MS) break;
        this.seen.delete(k);
      }
    }
    return true;
  }
}

export function verifyLogon(publicKey: KeyObject, keyId: number, timestampNs: bigint, nonce: number, signature: Uint8Array): boolean {
  return verify(null, logonPayload(keyId, timestampNs, nonce), publicKey, signature);
}
