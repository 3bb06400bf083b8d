// What a data folder's journal holds, read as an operator's tool reads it (read-only, no lock).
import { decodeJournal } from '../../src/pipeline/journal.js';
import { NodeRuntime } from '../../src/pipeline/runtime.js';

/**
 * Every command sequenced in the folder, and how many of them are the node's own clock commands.
 * A node with perpetuals sequences one at each funding sample (every wall-clock minute), so tests
 * that count commands across real time count the others exactly and the clocks as they came.
 */
export async function journalCounts(dataDir: string): Promise<{ commands: number; clocks: number }> {
  const runtime = await NodeRuntime.inspect(dataDir);
  try {
    let commands = 0;
    let clocks = 0;
    for (const entry of runtime.store.journalAfter(0)) {
      for (const { command } of decodeJournal(entry.journal)) {
        commands++;
        if (command.type === 'admin' && command.body.action === 'clock') clocks++;
      }
    }
    return { commands, clocks };
  } finally {
    await runtime.close();
  }
}
