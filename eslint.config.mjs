// @ts-check
import { builtinModules } from 'node:module';

import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Globals of plain Node scripts that are not type-checked (the config files at the root). */
const nodeScriptGlobals = {
  module: 'writable',
  require: 'readonly',
  process: 'readonly',
  console: 'readonly',
  __dirname: 'readonly',
  __filename: 'readonly',
};

/** Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no side-effecting SDK packages. */
const workflowRestrictedImports = {
  paths: builtinModules
    .filter((name) => !name.startsWith('_'))
    .map((name) => ({
      name,
      message: 'Workflow code must be deterministic: move I/O and Node built-ins into an activity.',
    })),
  patterns: [
    {
      group: ['node:*'],
      message: 'Workflow code must be deterministic: move I/O and Node built-ins into an activity.',
    },
    {
      group: ['@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@temporalio/testing'],
      allowTypeImports: true,
      message: 'Workflows may only import @temporalio/workflow (and @temporalio/common) at run time.',
    },
    {
      group: ['**/activities', '**/activities/**'],
      allowTypeImports: true,
      message: 'Import activities as types only (`import type * as activities`) and call them via proxyActivities.',
    },
  ],
};

export default defineConfig(
  globalIgnores([
    'node_modules/',
    'coverage/',
    '.mloe/',
    'dist/',
    'scratch/',
    'infra/ui/assets/',
    'infra/ui/build/',
    'test-output/',
    'infra/ui/pipeline-view/',
  ]),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // tsc checks names (including in checkJs files); ESLint's scope analysis does not know TS globals.
      'no-undef': 'off',
    },
  },

  {
    // Test fixtures stand in for user code, where activities and workflows are \`async\` by convention.
    name: 'mloe/test-fixtures',
    files: ['test/**/fixtures/**/*.ts', 'test/**/*.test.ts'],
    rules: {
      '@typescript-eslint/require-await': 'off',
    },
  },

  {
    // Protocol code: enum fields arrive from the wire as plain numbers (protobufjs decodes them so) and are compared
    // with the generated enums on purpose.
    name: 'mloe/devserver-protocol',
    files: ['infra/devserver/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-enum-comparison': 'off',
    },
  },

  {
    // core/ holds the pure modules workflows import (spec, DAG, expressions): the same rules keep it loadable in
    // the workflow sandbox. Example pipelines written as code are workflow code too (step code of an example goes
    // under its `steps/` folder).
    name: 'mloe/workflows-determinism',
    files: ['workflows/**/*.ts', 'core/**/*.ts', 'pipelines/**/*.ts'],
    ignores: ['pipelines/**/steps/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', workflowRestrictedImports],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message:
            'Keep time explicit in workflows: use workflowInfo(), sleep() or condition(), or read it in an activity.',
        },
        {
          object: 'Math',
          property: 'random',
          message: 'Use uuid4() from @temporalio/workflow, or draw randomness in an activity.',
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'process is not available in workflow code.' },
        { name: 'require', message: 'Use static imports in workflow code.' },
        { name: '__dirname', message: 'Workflow code has no file system.' },
        { name: '__filename', message: 'Workflow code has no file system.' },
      ],
    },
  },

  {
    name: 'mloe/bin',
    files: ['bin/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
    },
  },

  {
    name: 'mloe/root-config-files',
    files: ['*.js', '*.mjs', '*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeScriptGlobals },
    rules: {
      'no-undef': 'error',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
