import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'services/*/test/**/*.test.ts',
      'clientdemo/test/**/*.test.ts',
      'tests/**/*.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Tests run on real sockets and child processes; 2 cores do not gain from more workers.
    maxWorkers: 2,
  },
});
