import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'build/**', 'node_modules/**', 'coverage/**', 'lab/runs/**', '*.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true }],
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // The dashboard's browser script: its own program (DOM, no Node), and no Node module may creep in.
    files: ['lab/observe/client/**/*.ts'],
    languageOptions: {
      parserOptions: { project: './lab/observe/client/tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      'no-console': 'error',
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*', '../*', '!../run-events', '!../run-state', '!../link-label'], message: 'browser code' }] },
      ],
    },
  },
  {
    // What the browser bundle takes from lab/observe: the event types, the reducer and the link labels.
    files: ['lab/observe/run-events.ts', 'lab/observe/run-state.ts', 'lab/observe/link-label.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['node:*', '../*'] }] },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**'],
    rules: { 'no-console': 'error' },
  },
  {
    files: ['src/protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['../*', 'node:net', 'winston', '../shared/*'] }],
    },
  },
  {
    files: ['src/tracker/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../peer/*', '../cli/*', '../control/*'] }] },
  },
  {
    files: ['src/peer/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['../tracker/*', '../cli/*', '../control/*'] }] },
  },
  {
    // Exercises' picker modules: plain CommonJS, as students write them.
    files: ['lab/exercises/**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable' } },
  },
  {
    files: ['scripts/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
