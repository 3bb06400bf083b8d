// The node's log: one JSON object per line on stdout (pino), each with `level` (its name), `time`
// (ISO 8601), `pid`, `event` (a stable name a supervisor or a test can match: start, ready,
// stopped, failed, venue, insurance-fund, ...) and `msg` (a sentence for people). Lines are
// written synchronously: the node logs rarely (never per order), and a line written just before
// process.exit must not be lost.
import { pino, type DestinationStream, type Logger } from 'pino';

export type Log = Logger;

/** The node's logger, writing to `destination` (default: stdout, synchronously). */
export function nodeLog(destination: DestinationStream = pino.destination({ dest: 1, sync: true })): Log {
  return pino({
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, destination);
}
