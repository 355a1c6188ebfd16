import { defineConfig } from 'vitest/config';

// Unit, integration and end-to-end tiers all run under `npm test`. The JSON report is what .ci/run counts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // expect.poll waits on a condition, not a time: give it room on a loaded 2-core machine (the default is 1 s).
    expect: { poll: { timeout: 10_000, interval: 50 } },
    reporters: ['default', ['json', { outputFile: 'test-artifacts/vitest-report.json' }]],
  },
});
