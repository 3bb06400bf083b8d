// The repository stands on its own (issue 9): nothing it builds, runs or tests reaches outside the
// clone, except the one optional cross-check against the shared workload generator, which is
// skipped by name when that folder is absent. (A fresh clone with nothing beside it passing
// `npm ci && npm test` was checked by hand; this keeps the code from drifting back.)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('the repository stands on its own', () => {
  it('[OPS-1] no source, benchmark, script, test or CI file reads the shared folder, but the optional cross-check', () => {
    const offenders: string[] = [];
    for (const dir of ['src', 'bench', 'scripts', 'test', '.ci', 'native/src']) {
      for (const file of files(join(ROOT, dir))) {
        const rel = relative(ROOT, file);
        if (rel === 'test/differential.test.ts' || rel === 'test/standalone.test.ts') continue;
        const text = readFileSync(file, 'utf8');
        if (/\.\.\/shared|JUNCTION_SHARED|shared\/workloads/.test(text)) offenders.push(rel);
      }
    }
    expect(offenders).toEqual([]);
    for (const doc of ['docs/REQUIREMENTS.md', 'docs/DESIGN.md']) expect(statSync(join(ROOT, doc)).size).toBeGreaterThan(1_000);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).not.toMatch(/\.\.\/shared\/(REQUIREMENTS|ARCHITECTURE)\.md/);
  });
});
