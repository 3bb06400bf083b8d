// A small FIX 4.4 initiator for tests, written over the bridge's own framing: it signs its Logon,
// numbers what it sends (or sends raw bytes, for the fuzz tests), and keeps every message it reads.
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { sign } from 'node:crypto';
import { FixFramer, FixWriter, fixTime, type FixMessage } from '../../src/gateway/fix/codec.js';

export class FixTestClient {
  readonly received: FixMessage[] = [];
  readonly garbled: string[] = [];
  private readonly framer = new FixFramer();
  private readonly writer: FixWriter;
  nextOut = 1;
  closed = false;
  private waiters: (() => void)[] = [];

  private constructor(private readonly socket: Socket, readonly sender: string, readonly target: string, private readonly keyPem: string) {
    this.writer = new FixWriter(sender, target);
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let r = this.framer.next(); r; r = this.framer.next()) {
        if ('garbled' in r) this.garbled.push(r.garbled);
        else this.received.push(r);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static connect(port: number, sender: string, keyPem: string, target = 'JUNCTION', tls?: { ca: Buffer }): Promise<FixTestClient> {
    return new Promise((resolve, reject) => {
      const socket: Socket = tls
        ? connectTls({ host: '127.0.0.1', port, ca: tls.ca }, () => resolve(new FixTestClient(socket, sender, target, keyPem)))
        : connect({ host: '127.0.0.1', port }, () => resolve(new FixTestClient(socket, sender, target, keyPem)));
      socket.once('error', reject);
    });
  }

  /** Sends a message numbered next (or `seq`); `body` as `tag=value|tag=value` (| for SOH). */
  send(msgType: string, body: string, options: { seq?: number; header?: string; sendingTime?: string } = {}): number {
    const seq = options.seq ?? this.nextOut++;
    const fields = body === '' ? '' : body.split('|').join('\x01') + '\x01';
    this.socket.write(this.writer.write(msgType, seq, options.sendingTime ?? fixTime(Date.now()), fields, options.header ?? ''));
    return seq;
  }

  /** A signed Logon; `tamper` changes what is signed (bad-signature tests). */
  logon(options: { heartbeatS?: number; reset?: boolean; sendingTime?: string; seq?: number; tamper?: boolean; keyPem?: string } = {}): void {
    const sendingTime = options.sendingTime ?? fixTime(Date.now());
    const seq = options.seq ?? this.nextOut;
    const signed = `${sendingTime}\x01A\x01${seq}\x01${this.sender}\x01${options.tamper ? 'OTHER' : this.target}`;
    const signature = sign(null, Buffer.from(signed, 'latin1'), options.keyPem ?? this.keyPem).toString('base64');
    this.send('A', `98=0|108=${options.heartbeatS ?? 30}|95=${signature.length}|96=${signature}${options.reset ? '|141=Y' : ''}`, { seq, sendingTime });
    this.nextOut = seq + 1;
  }

  /** Several messages in one write (so the node reads them in one go), numbered next. */
  sendTogether(messages: [msgType: string, body: string][]): void {
    const parts = messages.map(([msgType, body]) => this.writer.write(msgType, this.nextOut++, fixTime(Date.now()), body.split('|').join('\x01') + '\x01'));
    this.socket.write(Buffer.concat(parts));
  }

  raw(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Waits for a received message matching `pred` at index ≥ `from` (default: any); returns it. */
  async waitFor(pred: (m: FixMessage) => boolean, options: { from?: number; timeoutMs?: number } = {}): Promise<FixMessage> {
    const deadline = Date.now() + (options.timeoutMs ?? 5_000);
    for (;;) {
      for (let i = options.from ?? 0; i < this.received.length; i++) if (pred(this.received[i])) return this.received[i];
      if (Date.now() > deadline) {
        throw new Error(`no matching FIX message; received: ${this.received.slice(-8).map((m) => m.tags.map((t, i) => `${t}=${m.values[i]}`).join('|')).join('\n')}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => { clearTimeout(t); r(); });
      });
    }
  }

  async waitClosed(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the connection did not close');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The received application messages of a type. */
  ofType(msgType: string): FixMessage[] {
    return this.received.filter((m) => m.msgType === msgType);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A message's fields as an object (the last value of a repeated tag wins). */
export function fieldsOf(m: FixMessage): Record<number, string> {
  const out: Record<number, string> = {};
  m.tags.forEach((t, i) => (out[t] = m.values[i]));
  return out;
}
