import { defineConfig } from 'vitest/config';

/**
 * In the repository, `@longrun/*` resolve to their TypeScript sources through this export
 * condition (each package.json maps it to `src/`), so no test needs a build. Vite's resolver gets
 * it below; Node gets it through NODE_OPTIONS, which every process a test starts inherits.
 */
const sourceCondition = '@longrun/source';
const nodeOption = `--conditions=${sourceCondition}`;
if (!(process.env.NODE_OPTIONS ?? '').includes(nodeOption)) {
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, nodeOption].filter(Boolean).join(' ');
}

export default defineConfig({
  // The source condition first, then Vite's server conditions without 'module': that one picks
  // bundler builds (@aws-sdk's dist-es, extensionless imports) that Node cannot load.
  ssr: { resolve: { conditions: [sourceCondition, 'node', 'development|production'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'examples/*/src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Crash tests spawn worker processes and Postgres tests share one server: keep files apart.
    fileParallelism: false,
  },
});
