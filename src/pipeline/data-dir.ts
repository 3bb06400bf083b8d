// The node's data folder: a directory that one node at a time holds exclusively.
//
// `--data DIR` names a directory, created when missing. An existing one must be empty (what
// `mktemp -d` returns) or a node's folder; one holding anything else is refused rather than
// written into. The LMDB environment lives inside it whatever its name looks like (a dotted name
// is still a folder).
//
// A running node holds an exclusive flock(2) on DIR/junction.lock for as long as it runs: a second
// node on the same folder is refused, naming the folder and the process that holds it. The kernel
// drops the lock when its holder exits, SIGKILL included, so a killed node never blocks its own
// restart. The lock file is never deleted (deleting it would let two nodes lock two different
// files of the same name).
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync, constants } from 'node:fs';
import { join, resolve } from 'node:path';
import { native } from '../core/native.js';

export const LOCK_FILE = 'junction.lock';
/** What a node's folder may hold: LMDB's two files, the lock, and the demo's key file. */
const NODE_FILES = new Set(['data.mdb', 'lock.mdb', LOCK_FILE, 'demo-keys.json', 'demo-venues.json']);

export class DataDirError extends Error {}

/** Checks `dir` can be a node's folder, creating it when missing. */
export function prepareDataDir(dir: string, create: boolean): void {
  if (!existsSync(dir)) {
    if (!create) throw new DataDirError(`${dir} does not exist`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return;
  }
  if (!statSync(dir).isDirectory()) throw new DataDirError(`${dir} is not a directory: --data names a folder`);
  const foreign = readdirSync(dir).filter((name) => !NODE_FILES.has(name));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, … (${foreign.length} in all)` : '');
    throw new DataDirError(`${dir} holds files that are not a Junction node's (${shown}): give an empty folder, a new name, or a node's folder`);
  }
}

/** An exclusive hold on a data folder, released by release() or by the process ending. */
export class DataDirLock {
  private fd: number | undefined;

  private constructor(readonly dir: string, fd: number) {
    this.fd = fd;
  }

  /** Takes the folder, or throws naming the process that holds it. */
  static acquire(dir: string): DataDirLock {
    const path = join(dir, LOCK_FILE);
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    let taken: number;
    try {
      taken = native.lockExclusive(fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    if (taken !== 1) {
      closeSync(fd);
      let holder = 'another process';
      try {
        const { pid, startedAt } = JSON.parse(readFileSync(path, 'utf8')) as { pid: number; startedAt: string };
        holder = `process ${pid} (started ${startedAt})`;
      } catch {
        // The holder is still writing its record: the folder is taken all the same.
      }
      throw new DataDirError(`data folder ${resolve(dir)} is in use by ${holder}; one node per folder`);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }) + '\n', 0);
    return new DataDirLock(dir, fd);
  }

  release(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
