// What the load benchmarks share about the node they start as a child process.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';

/** The first line the child prints to stdout that `match` accepts. */
export function lineOf(child: ChildProcess, match: (line: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let buffered = '';
    child.stdout!.on('data', (c: Buffer) => {
      buffered += c.toString();
      const found = buffered.split('\n').find(match);
      if (found) resolve(found);
    });
  });
}

/** Whether the measured window is open, and since when (µs): what message handlers read. */
export interface MeasuredWindow { measuring: boolean; from: number }

/**
 * Runs an open-loop load: every millisecond `tick(now)` sends what the schedule says is due. After
 * `warmupS` the measured window opens (the node is told with SIGUSR2, so its own figures start
 * there too) and lasts `seconds`; resolves with the window's length in µs.
 */
export function openLoop(node: ChildProcess, window: MeasuredWindow, started: number, warmupS: number, seconds: number,
  nowUs: () => number, tick: (now: number) => void): Promise<number> {
  const warmupUs = warmupS * 1_000_000;
  return new Promise((done) => {
    const timer = setInterval(() => {
      const now = nowUs();
      if (!window.measuring && now - started >= warmupUs) {
        window.measuring = true;
        window.from = now;
        node.kill('SIGUSR2');
      }
      if (now - started >= warmupUs + seconds * 1e6) {
        clearInterval(timer);
        return done(now - window.from);
      }
      tick(now);
    }, 1);
  });
}

/** Stops the node (SIGTERM), reads the figures it wrote to `statsFile`, and removes its folder. */
export async function stopNode(node: ChildProcess, statsFile: string, data: string): Promise<Record<string, number>> {
  node.kill('SIGTERM');
  await new Promise((r) => node.on('exit', r));
  const stats = JSON.parse(readFileSync(statsFile, 'utf8')) as Record<string, number>;
  rmSync(data, { recursive: true, force: true });
  return stats;
}

/** Orders acknowledged per second over the window, and the ack latency's percentiles (µs). */
export function ackFigures(ack: { getValueAtPercentile(p: number): number }, acked: number, measuredUs: number) {
  return {
    orders_per_s: Math.round((acked * 1e6) / measuredUs),
    ack_p50_us: ack.getValueAtPercentile(50),
    ack_p99_us: ack.getValueAtPercentile(99),
    ack_p999_us: ack.getValueAtPercentile(99.9),
  };
}
