// Event-by-event comparison of the two engines, reporting the first divergence precisely.
import { EVENT_KIND_NAMES, type CoreEvent } from '../../src/core/index.js';

const FIELDS: (keyof CoreEvent)[] = [
  'kind', 'reason', 'side', 'flags', 'instrument', 'commandIndex', 'account', 'orderId', 'makerOrderId',
  'price', 'qty', 'remaining', 'makerRemaining', 'tradeId', 'makerAccount',
];

export function describe(e: CoreEvent | undefined): string {
  if (!e) return '(no event)';
  return `${EVENT_KIND_NAMES[e.kind] ?? e.kind} ${JSON.stringify(e)}`;
}

/**
 * Undefined when both sequences are identical, else a message naming the first diverging event and,
 * when `commands` is given, the command that produced it.
 */
export function firstDivergence(native: CoreEvent[], reference: CoreEvent[], context: string, commands?: readonly unknown[]): string | undefined {
  const n = Math.max(native.length, reference.length);
  for (let i = 0; i < n; i++) {
    const a = native[i];
    const b = reference[i];
    if (a && b && FIELDS.every((f) => a[f] === b[f])) continue;
    const at = (b ?? a).commandIndex;
    const command = commands ? `\n  from command #${at} of the batch: ${JSON.stringify(commands[at])}` : '';
    return `${context}: first diverging event #${i}\n  native:    ${describe(a)}\n  reference: ${describe(b)}${command}`;
  }
  return undefined;
}
