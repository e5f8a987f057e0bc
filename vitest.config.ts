import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: a single worker on a 2-core machine,
    // which then mostly waits on its child processes (bake, ssh, ansible, booting instances).
    // One worker per core keeps both cores busy without oversubscribing them.
    maxWorkers: Math.max(2, availableParallelism()),
  },
});
