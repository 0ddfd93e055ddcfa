import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// Three projects: unit tests run anywhere on fixture trees; e2e tests need root, this
// machine's kernel and the private Docker Engine (started by the global setup); vm tests
// boot a cgroup v2 kernel under qemu.
export default defineConfig({
  resolve: {
    // Nest (not transformed) loads graphql's CommonJS build; the sources must get the same
    // copy, or `instanceof GraphQLScalarType` fails between the two (dual-package hazard).
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.spec.ts', 'test/unit/**/*.spec.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.e2e.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'vm',
          include: ['test/vm/**/*.vm.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
