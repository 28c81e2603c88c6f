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
  project('packages/socket-node', 60_000),
  project('packages/publish-api'),
  project('packages/dispatcher', 120_000),
  project('packages/fallback-worker', 60_000),
  project('packages/local-stack', 120_000),
  project('packages/client', 120_000),
  project('packages/guarantees', 180_000),
  // The delivery guarantees again, on a private Redis Cluster (3 masters + 3 replicas) that the
  // setup provides as `redisUrl: 'redis-cluster://…'`, so the apps and the test process open
  // `Cluster` connections: the guarantees package, and the dispatcher's tests of every device,
  // only that user and publish order.
  {
    test: {
      name: 'guarantees-on-cluster',
      root: '.',
      include: [
        'packages/guarantees/test/**/*.test.ts',
        'packages/dispatcher/test/delivers-to-every-device.test.ts',
        'packages/dispatcher/test/never-leaks-events-across-users.test.ts',
        'packages/dispatcher/test/keeps-publish-order-with-two-dispatchers.test.ts',
      ],
      exclude: [
        // These start a private redis-server of their own (they stop it, restart it, or set
        // keyspace notifications on it, which a shared server must not get): they prove what
        // they prove on one Redis, and a cluster would not change it.
        'packages/guarantees/test/fails-fast-while-redis-is-down.test.ts',
        'packages/guarantees/test/survives-a-redis-restart.test.ts',
        'packages/guarantees/test/survives-a-fallback-worker-kill.test.ts',
        // These start a Redis Cluster of their own (they kill its masters), so the guarantees
        // project runs them already.
        'packages/guarantees/test/cluster/**',
      ],
      testTimeout: 180_000,
      hookTimeout: 180_000,
      globalSetup: ['./packages/testing/src/global-setup-cluster.ts'],
    },
  },
  // The bench's own logic (trial medians, the fallback audit, key patterns): no Redis needed.
  { test: { name: 'bench', root: './bench', include: ['src/**/*.test.ts'] } },
];
