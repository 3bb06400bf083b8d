// The built command line, run as a user runs it: its exit code and what it printed.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = join(dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli.js');

export interface CliRun { code: number | null; stdout: string; stderr: string }

export function runCli(args: string[]): Promise<CliRun> {
  return watchCli(args).done;
}

/**
 * Runs a command that watches (`trades tail`, `reports tail`, `book watch`): `watching` resolves
 * once it says on stderr that it is subscribed (so nothing after that is missed), `done` when it
 * exits. `watching` rejects if it exits first.
 */
export function watchCli(args: string[]): { watching: Promise<void>; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ready: () => void = () => {};
  const watching = new Promise<void>((resolve) => (ready = resolve));
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    if (/^watching /m.test(stderr)) ready();
  });
  const done = new Promise<CliRun>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  const watched = Promise.race([watching, done.then((r) => { throw new Error(`exited (${r.code}) before watching: ${r.stderr}`); })]);
  watched.catch(() => {}); // only a caller that waits for it hears of it
  return { watching: watched, done };
}
