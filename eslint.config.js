// @ts-check
// Type-aware lint for every .ts file. TypeScript itself (strict, tsc -b) owns type errors and
// Prettier owns formatting; this config is for the bugs types alone do not catch — above all an
// un-awaited promise, which in longrun is a lost event or a lease that silently stops renewing.
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    '**/node_modules/',
    '.tooling/',
    '**/dist/',
    '**/*.d.ts',
    'test-results/',
    'bench-results/',
    '.longrun/',
  ]),
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // Each file is checked with the nearest tsconfig.json (packages/*, scripts/). Root config
        // files belong to no project; they get the base compiler options.
        projectService: {
          allowDefaultProject: ['vitest.config.ts'],
          defaultProject: 'tsconfig.base.json',
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits is a lost append or an unhandled rejection; `void` marks the
      // deliberate ones. Both are in the preset already: stated here because they are the point.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `return promise` inside try/catch skips the catch, so a driver error escapes untranslated.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      // Closed unions (error codes, event types) must be handled exhaustively.
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      // noUncheckedIndexedAccess is only worth having if `!` does not switch it back off.
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Off on purpose: ports are async, and the SQLite store implements them over synchronous
      // node:sqlite. `async` there is what turns a thrown LongrunError into a rejection, so the
      // caller sees one failure mode whichever backend it holds.
      '@typescript-eslint/require-await': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  {
    // Tests (and the conformance package, which is a test suite shipped as a library) index into
    // results they have just asserted on; a failed `!` there fails the test, which is the point.
    files: ['**/*.test.ts', 'packages/store-conformance/src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
