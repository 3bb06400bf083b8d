import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    // Set-up hooks start nodes, compile the QuickFIX peer and submit durable commands: on a loaded
    // CI host they can take well past vitest's default 10 s.
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    // The machine has two cores; the differential tests are CPU-bound.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
