import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests start real servers; two cores are plenty for a few files at once.
    pool: 'forks',
    reporters: ['default'],
  },
});
