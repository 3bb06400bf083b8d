#!/usr/bin/env node
// Completes package-lock.json with the platform-specific optional dependencies that the registry
// mirror on our machines does not carry (e.g. @rollup/rollup-darwin-arm64). npm leaves them out of
// the lock when it cannot fetch them, and `npm ci` then refuses the lock as out of sync. Each is
// added as an optional entry with the os/cpu its name declares, so npm skips it on this platform
// without fetching it. Run after any `npm install` that changes the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['android', 'darwin', 'freebsd', 'linux', 'openbsd', 'openharmony', 'netbsd', 'sunos', 'aix', 'win32'];
const CPU = ['arm64', 'arm', 'x64', 'ia32', 'ppc64', 'riscv64', 's390x', 'loong64', 'wasm32', 'mips64el'];

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [where, entry] of Object.entries(packages)) {
  for (const [name, spec] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (packages[key] || packages[`${where}/${key}`]) continue;
    const parts = name.split('/').pop().split('-');
    const os = parts.find((p) => OS.includes(p));
    const cpu = parts.find((p) => CPU.includes(p));
    if (!os && cpu !== 'wasm32') {
      console.error(`${name}: cannot tell its platform from its name; left out`);
      continue;
    }
    const version = spec.replace(/^[~^=]/, '');
    packages[key] = { version, ...(cpu ? { cpu: [cpu] } : {}), dev: entry.dev ?? false, optional: true, ...(os ? { os: [os] } : {}) };
    if (!entry.dev) delete packages[key].dev;
    added++;
  }
}
const sorted = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
lock.packages = sorted;
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
console.log(`package-lock.json: added ${added} optional platform entries`);
