import type { TestProjectInlineConfiguration } from 'vitest/config';

/**
 * The list of test projects. Vitest 4 no longer reads this file by itself
 * (it would silently find no projects), so `vitest.config.ts` passes it to
 * `test.projects`. Add a project here when a package or app gains tests.
 */
const project = (dir: string, timeoutMs = 30_000): TestProjectInlineConfiguration => ({
  test: {
    name: dir.split('/').pop(),
    root: `./${dir}`,
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: timeoutMs,
    hookTimeout: timeoutMs,
    globalSetup: ['../../packages/testing/src/global-setup.ts'],
  },
});

export default [
  project('packages/contracts'),
  project('packages/core'),
  project('packages/publisher'),
  project('packages/local-redis'),
  project('apps/socket-node', 60_000),
  project('apps/publish-api'),
  project('apps/dispatcher', 120_000),
  project('apps/fallback-worker', 60_000),
  project('apps/local-stack', 120_000),
  project('packages/client', 120_000),
  project('packages/guarantees', 180_000),
  // The bench's own logic (trial medians, the fallback audit, key patterns): no Redis needed.
  { test: { name: 'bench', root: './bench', include: ['src/**/*.test.ts'] } },
];
