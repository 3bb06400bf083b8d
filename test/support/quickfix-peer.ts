// An independent FIX 4.4 initiator (QuickFIX/C++, test/fix-peer/peer.cpp) in a child process, to
// drive Junction's FIX acceptor from a third-party engine. The program is compiled once with g++
// against Debian's libquickfix-dev (`apt-get install -y libquickfix-dev libssl-dev`).
//
// Events are the peer's stdout lines, one JSON object each (see the top of peer.cpp):
//   ready | create | logon | bye
//   logout {text, received, sentText, sent}: the connection is gone (after a Logon was sent).
//                text/received: the acceptor's Logout(5) if one came; sentText/sent: the peer's
//                own (e.g. "MsgSeqNum too low, expecting 5 but received 3"). The peer then stays
//                disconnected until the next `connect` (unless autoReconnect).
//   signed {data, sig, headerFilled}: the string each Logon signature covers
//   app / admin  {msgType, seq, possDup, fields, groups, header, raw}: a message received
//                (app = fromApp, admin = fromAdmin: Logon, Logout, Heartbeat, TestRequest,
//                ResendRequest, SequenceReset, Reject)
//   sent {msgType, clOrdId, seq, loggedOn}: accepted by QuickFIX. With loggedOn=false it was only
//                stored under `seq` and goes out (PossDupFlag=Y) when the acceptor asks for it
//                with a ResendRequest after the next Logon.
//   error {text} | ack {cmd} | seqnums {nextSender, nextTarget} | status {...}
//   log {text}: QuickFIX's own session events ("MsgSeqNum too high, expecting 3 but received 5",
//                "Message 4 Rejected: Tag not defined for this message type:1", ...)
//   in / out {raw}: every message exactly as read from / written to the socket (SOH kept).
//
// Groups: `fields` holds every body field outside repeating groups (count fields such as 268
// included); `groups` maps a count tag to its entries, each a tag→value map, e.g.
//   groups['268'] = [{ '269': '0', '270': '99', '271': '5' }, { '269': '1', ... }]
// A group nested inside an entry is flattened into that entry as 'COUNT.INDEX.TAG' keys (INDEX
// from 0). QuickFIX only recognises groups through its data dictionary (FIX44.xml), which the
// wrapper always passes: a group field it meets outside its group, or an entry not starting with
// the group's first field, makes QuickFIX answer with a Reject(3) instead of an `app` event.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface FixEvent {
  event: string;
  msgType?: string;
  fields?: Record<string, string>;
  groups?: Record<string, Record<string, string>[]>;
  header?: Record<string, string>;
  possDup?: boolean;
  seq?: number;
  text?: string;
  raw?: string;
  [k: string]: unknown;
}

export interface QuickfixPeerOptions {
  host: string;
  port: number;
  /** SenderCompID: the venue's CompID. */
  sender: string;
  /** TargetCompID: Junction's (default JUNCTION). */
  target: string;
  /** The venue's Ed25519 private key, PKCS#8 PEM. */
  keyPem: string;
  /** QuickFIX's FileStore folder: reuse it across peers to keep the sequence numbers. */
  storeDir: string;
  heartbeatS?: number;
  resetOnLogon?: boolean;
  /** Reconnect by itself when the acceptor closes the connection (default: stay down until `connect`). */
  autoReconnect?: boolean;
  /** Extra QuickFIX session settings, e.g. { CheckLatency: 'N' }. */
  settings?: Record<string, string>;
  /** FIX44.xml; default: findFix44Dictionary(). */
  dictPath?: string;
}

/** The repository's root: the nearest ancestor of this module holding test/fix-peer/peer.cpp. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'test', 'fix-peer', 'peer.cpp'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('quickfix-peer: cannot find test/fix-peer/peer.cpp above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

const CXXFLAGS = ['-O1', '-std=gnu++14', '-Wno-deprecated'];
const LIBS = ['-lquickfix', '-lssl', '-lcrypto', '-lpthread'];

/**
 * Compiles test/fix-peer/peer.cpp into test/fix-peer/build/peer unless that binary is newer than the
 * source and was built from this very source with these flags (build/peer.stamp holds their
 * SHA-256: a checkout's mtimes alone could keep a stale binary); returns the binary's path.
 * QuickFIX 1.15's headers use dynamic exception specifications, which C++17 removed, hence C++14.
 */
export function buildQuickfixPeer(): string {
  const root = repoRoot();
  const source = join(root, 'test', 'fix-peer', 'peer.cpp');
  const binary = join(root, 'test', 'fix-peer', 'build', 'peer');
  const stampFile = `${binary}.stamp`;
  const stamp = createHash('sha256').update(readFileSync(source)).update(JSON.stringify([CXXFLAGS, LIBS])).digest('hex');
  if (existsSync(binary) && statSync(binary).mtimeMs > statSync(source).mtimeMs
    && existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) return binary;
  if (!existsSync('/usr/include/quickfix/Session.h')) {
    throw new Error('quickfix-peer: QuickFIX headers missing: apt-get install -y libquickfix-dev libssl-dev');
  }
  mkdirSync(dirname(binary), { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  try {
    execFileSync('g++', [...CXXFLAGS, '-o', partial, source, ...LIBS], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; stdout?: Buffer; message: string };
    rmSync(partial, { force: true });
    throw new Error(`quickfix-peer: g++ failed: ${err.message}\n${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}`);
  }
  // rename(2) is atomic: a concurrent build (two test files) never runs a half-written binary.
  renameSync(partial, binary);
  writeFileSync(`${stampFile}.${process.pid}.tmp`, stamp + '\n');
  renameSync(`${stampFile}.${process.pid}.tmp`, stampFile);
  return binary;
}

const JSPUREFIX = 'jspurefix@5.11.4';

/**
 * QuickFIX's FIX 4.4 data dictionary. Debian's libquickfix-dev does not ship QuickFIX's spec/
 * folder, so: $QUICKFIX_FIX44_XML, then the usual install places, then a copy kept in the
 * repository (test/fix-peer/FIX44.xml), then jspurefix's copy (QuickFIX's FIX44.xml, MIT) from
 * node_modules or a previous fetch, and last `npm pack jspurefix` into test/fix-peer/build/.
 */
export function findFix44Dictionary(): string {
  const root = repoRoot();
  const cached = join(root, 'test', 'fix-peer', 'build', 'FIX44.xml');
  const candidates = [
    process.env.QUICKFIX_FIX44_XML,
    '/usr/share/quickfix/FIX44.xml',
    '/usr/local/share/quickfix/FIX44.xml',
    '/usr/share/quickfix/spec/FIX44.xml',
    join(root, 'test', 'fix-peer', 'FIX44.xml'),
    join(root, 'node_modules', 'jspurefix', 'data', 'FIX44.xml'),
    cached,
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  const work = mkdtempSync(join(tmpdir(), 'fix44-'));
  try {
    execFileSync('npm', ['pack', JSPUREFIX, '--silent', '--pack-destination', work], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tarball) throw new Error('npm pack wrote no tarball');
    execFileSync('tar', ['-xzf', join(work, tarball), '-C', work, 'package/data/FIX44.xml']);
    mkdirSync(dirname(cached), { recursive: true });
    const partial = `${cached}.${process.pid}.tmp`;
    copyFileSync(join(work, 'package', 'data', 'FIX44.xml'), partial);
    renameSync(partial, cached);
    return cached;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`quickfix-peer: no FIX44.xml (set QUICKFIX_FIX44_XML) and fetching ${JSPUREFIX} failed: ${err.message} ${err.stderr?.toString() ?? ''}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

interface Waiter {
  pred: (e: FixEvent) => boolean;
  since: number;
  resolve: (e: FixEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class QuickfixPeer {
  /** Every event received so far, in order. */
  readonly events: FixEvent[] = [];
  /** Indexes of events already returned by waitFor. */
  private readonly consumed = new Set<number>();
  private waiters: Waiter[] = [];
  private stderr = '';
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitPromise: Promise<void>;

  private constructor(readonly child: ChildProcessWithoutNullStreams, private readonly keyDir: string) {
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(line));
    child.stderr.on('data', (c: Buffer) => { this.stderr = (this.stderr + c.toString()).slice(-20_000); });
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`quickfix peer exited (code ${code}, signal ${signal}) before the awaited event\n${this.describeTail()}`));
        }
        this.waiters = [];
        rmSync(this.keyDir, { recursive: true, force: true });
        resolve();
      });
    });
  }

  /** Compiles the peer if needed, starts it and resolves once it is ready (before any connection). */
  static async start(options: QuickfixPeerOptions): Promise<QuickfixPeer> {
    const binary = buildQuickfixPeer();
    const dict = options.dictPath ?? findFix44Dictionary();
    const keyDir = mkdtempSync(join(tmpdir(), 'fix-peer-key-'));
    const keyFile = join(keyDir, 'key.pem');
    writeFileSync(keyFile, options.keyPem, { mode: 0o600 });
    mkdirSync(options.storeDir, { recursive: true });
    const args = [
      '--host', options.host, '--port', String(options.port),
      '--sender', options.sender, '--target', options.target,
      '--key-file', keyFile, '--store', options.storeDir, '--dict', dict,
      '--heartbeat', String(options.heartbeatS ?? 5),
    ];
    if (options.resetOnLogon) args.push('--reset-on-logon');
    if (options.autoReconnect) args.push('--auto-reconnect');
    for (const [k, v] of Object.entries(options.settings ?? {})) args.push('--set', `${k}=${v}`);
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const peer = new QuickfixPeer(child, keyDir);
    try {
      await peer.waitFor((e) => e.event === 'ready', 10_000);
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    return peer;
  }

  /** Sends one command line (see peer.cpp): connect, order ..., drop, seqnums, raw 35=...|..., quit. */
  send(line: string): void {
    if (this.exited) throw new Error(`quickfix peer has exited (code ${this.exited.code})\n${this.describeTail()}`);
    this.child.stdin.write(line.replace(/\n/g, ' ') + '\n');
  }

  /** The current number of events: pass it as `since` to wait only for what comes after. */
  mark(): number {
    return this.events.length;
  }

  /**
   * Resolves with the earliest event matching `pred` that no earlier waitFor returned (and at or
   * after index `since`), waiting for it when there is none yet. Successive calls with the same
   * predicate thus return successive matching events. Rejects on timeout or exit, listing the
   * last events.
   */
  waitFor(pred: (e: FixEvent) => boolean, timeoutMs = 10_000, since = 0): Promise<FixEvent> {
    const found = this.find(pred, since);
    if (found !== undefined) return Promise.resolve(found);
    if (this.exited) {
      return Promise.reject(new Error(`quickfix peer exited (code ${this.exited.code}) before the awaited event\n${this.describeTail()}`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pred, since, resolve, reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`quickfix peer: no matching event within ${timeoutMs} ms (predicate ${pred.toString()})\n${this.describeTail()}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits for the next application message of `msgType` (and matching `pred`). */
  waitForApp(msgType: string, pred: (e: FixEvent) => boolean = () => true, timeoutMs = 10_000): Promise<FixEvent> {
    return this.waitFor((e) => e.event === 'app' && e.msgType === msgType && pred(e), timeoutMs);
  }

  /** Sends `quit`, waits for the exit, kills the process after 3 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    try { this.child.stdin.write('quit\n'); } catch { /* already closed */ }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await this.exitPromise;
    clearTimeout(timer);
  }

  /** The last events, one line each, with the process's stderr: for error messages. */
  describeTail(count = 30): string {
    const tail = this.events.slice(-count).map((e, i) => `  #${this.events.length - Math.min(count, this.events.length) + i} ${JSON.stringify(e).replace(/\\u0001/g, '|')}`);
    return `last events:\n${tail.join('\n')}${this.stderr ? `\nstderr:\n${this.stderr}` : ''}`;
  }

  private find(pred: (e: FixEvent) => boolean, since: number): FixEvent | undefined {
    for (let i = since; i < this.events.length; i++) {
      if (this.consumed.has(i)) continue;
      if (pred(this.events[i])) {
        this.consumed.add(i);
        return this.events[i];
      }
    }
    return undefined;
  }

  private onLine(line: string): void {
    let event: FixEvent;
    try {
      event = JSON.parse(line) as FixEvent;
    } catch {
      event = { event: 'unparsed', text: line };
    }
    const index = this.events.length;
    this.events.push(event);
    for (const w of [...this.waiters]) {
      if (index < w.since || this.consumed.has(index)) continue;
      if (w.pred(event)) {
        this.consumed.add(index);
        clearTimeout(w.timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(event);
      }
    }
  }
}
