// @ts-check
// Type-aware lint for the server (src/), its tests (test/), the benchmark (bench/) and the mini-program
// (miniprogram/). Each file is checked against the tsconfig nearest to it (projectService): the root one for
// src/ and test/, bench/tsconfig.json, miniprogram/tsconfig.json. Formatting is Prettier's (npm run format);
// eslint-config-prettier turns off the stylistic rules that would fight it.
import eslint from '@eslint/js';
import { defineConfig } from 'eslint/config';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

// The CommonJS files jest loads as they are (jest.config.js and its environment/setup under test/support).
const nodeCommonJsGlobals = {
  require: 'readonly',
  module: 'writable',
  exports: 'writable',
  __dirname: 'readonly',
  __filename: 'readonly',
  process: 'readonly',
  console: 'readonly',
  URL: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
};

export default defineConfig(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'artifacts/',
      'data/',
      'coverage/',
      '.tools/',
      // Written by `npm run codegen` from schema.graphql.
      'miniprogram/gql/',
    ],
  },
  eslint.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names are deliberate: a positional parameter a framework passes but we do not read
      // (Fastify hooks, type-graphql resolvers), or a property split off by destructuring to leave it out.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // The one recommended rule turned off: every `async` here without an `await` meets a contract
      // that wants a Promise (Fastify plugins, handlers and onClose hooks; Apollo plugin hooks; the in-process
      // KeyValueStore; jest fixtures' drop()), and `async` is what turns a throw in them into a rejection, which
      // the caller handles. Removing it would turn those throws synchronous. The promise mistakes the rule is a
      // proxy for are caught directly by no-floating-promises and no-misused-promises, which stay on.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/support/wx-globals.d.ts'],
    rules: {
      // An ambient declaration file (no import/export, or its globals would stop being global) that pulls in
      // miniprogram-api-typings' library files one by one: a path reference is the only way to do that.
      '@typescript-eslint/triple-slash-reference': ['error', { path: 'always', types: 'prefer-import', lib: 'always' }],
      // The helper types copied from miniprogram-api-typings' entry file keep its `any`s, so WeChat's declarations
      // that use them (IAnyObject, success callbacks) type-check exactly as they do in the mini-program.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['test/support/miniprogram.ts'],
    rules: {
      // jest.isolateModules loads the mini-program's modules (each page of app.json by its route) afresh for each
      // boot, and only synchronously: require() is the mechanism here, not a style choice.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['test/support/wx-shim.ts'],
    rules: {
      // The shim's `wx` object is written with WeChat's method syntax, where `this` is the wx object; its methods
      // reach the phone they belong to through the one alias `device`.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['device'] }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['jest.config.js', 'test/support/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: nodeCommonJsGlobals },
    rules: {
      // These files are CommonJS by necessity: jest loads them with require(), before any transform.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  prettier,
);
