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

/** What a price source's signature starts with: it can never pass for a logon's, or anything else's. */
const PRICE_DOMAIN = 'junction/price/v1';
/** The underlying's bytes in the signed form: the wire's Symbol, NUL-padded. */
const UNDERLYING_BYTES = 16;
export const PRICE_PAYLOAD_BYTES = PRICE_DOMAIN.length + 8 + UNDERLYING_BYTES + 8 + 8;

/**
 * The 57 bytes a price source signs (PERP-3): "junction/price/v1", then keyId (u64), underlying (16
 * bytes, NUL-padded), price (i64), sourceTsUs (i64), little-endian, as the PriceUpdate carries them.
 * The key's id is in it, so one source's signed price cannot be passed off as another's.
 */
export function pricePayload(keyId: number, underlying: string, price: number, sourceTsUs: number): Buffer {
  if (underlying.length > UNDERLYING_BYTES || !/^[\x00-\x7f]*$/.test(underlying)) throw new Error(`underlying ${JSON.stringify(underlying)}: at most ${UNDERLYING_BYTES} ASCII characters`);
  const b = Buffer.alloc(PRICE_PAYLOAD_BYTES);
  let at = b.write(PRICE_DOMAIN, 0, 'ascii');
  b.writeBigUInt64LE(BigInt(keyId), at);
  b.write(underlying, (at += 8), UNDERLYING_BYTES, 'ascii');
  b.writeBigInt64LE(BigInt(price), (at += UNDERLYING_BYTES));
  b.writeBigInt64LE(BigInt(sourceTsUs), at + 8);
  return b;
}

export function signPrice(privateKeyPem: string, keyId: number, underlying: string, price: number, sourceTsUs: number): Uint8Array {
  return new Uint8Array(sign(null, pricePayload(keyId, underlying, price, sourceTsUs), privateKeyPem));
}

export function verifyPrice(publicKey: KeyObject, keyId: number, underlying: string, price: number, sourceTsUs: number, signature: Uint8Array): boolean {
  // What the wire's Symbol decoded to may hold bytes past ASCII: no signer made that, so it fails.
  if (!/^[\x00-\x7f]*$/.test(underlying)) return false;
  return verify(null, pricePayload(keyId, underlying, price, sourceTsUs), publicKey, signature);
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
