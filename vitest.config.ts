import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // One graphql for everything: vite would hand our files graphql's ESM build while yoga, Pothos
    // and codegen load its CommonJS build, and graphql refuses types from "another module or realm".
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Integration tests start real servers; two cores are plenty for a few files at once.
    pool: 'forks',
    reporters: ['default'],
  },
});
