import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{sdk,collector,alerting,dashboards,test}/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes; two cores cannot run many at once.
    maxWorkers: 2,
    reporters: ['default'],
    globalSetup: ['test/helpers/scratch-dir.ts'],
  },
});
