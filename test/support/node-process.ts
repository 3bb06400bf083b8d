// A node as `npm start` runs it, in a child process on loopback: resolves once it prints its ready
// line, with its URL and the demo keys it wrote.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const NODE = join(__dirname, '../../dist/src/node.js');

export interface NodeProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  keys: { keyId: number; privateKeyPem: string }[];
  /** The FIX bridge's port and the demo venues' logon details (demo-venues.json). */
  fixPort: number;
  venues: { venue: string; senderCompId: string; targetCompId: string; clients: string[]; privateKeyPem: string }[];
}

export async function startNodeProcess(data: string, extra: string[] = []): Promise<NodeProcess> {
  const child = spawn(process.execPath, [NODE, '--data', data, '--port', '0', '--fix-port', '0', ...extra], { stdio: ['pipe', 'pipe', 'pipe'] });
  const ready = await new Promise<{ url: string; keys: string; fix: string; venues: string }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.includes('"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
  });
  return {
    child, url: ready.url, keys: JSON.parse(readFileSync(ready.keys, 'utf8')),
    fixPort: Number(ready.fix.split(':')[1]), venues: JSON.parse(readFileSync(ready.venues, 'utf8')),
  };
}
