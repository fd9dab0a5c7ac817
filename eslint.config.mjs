import js from '@eslint/js';
import nx from '@nx/eslint-plugin';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Specs, integration suites and benchmarks: the only files that may use @temps/testing. */
const TEST_FILES = ['**/*.spec.ts', '**/test/**/*.ts', '**/bench/**/*.ts'];

/**
 * The layers, by the tags in each project.json: the pure core and the small utilities (type:util:
 * timeouts, throttled logging, stop requests) import no workspace project, infrastructure
 * libraries build on them and on each other, services and the user's launchers in tools/
 * (type:launcher) on all three; the test kit (type:testing) is for test files and the e2e and
 * chaos suites only: `npm start` must not need it. `testing` adds it for
 * TEST_FILES. The kit imports the libraries it tests, so a library's spec that uses it closes a
 * cycle through it; only those cycles are allowed (the build leaves the kit out, see tools/build.mjs).
 */
const boundaries = ({ testing }) => [
  'error',
  {
    allow: [],
    // An integration suite may import its own library through the alias, as its users do.
    allowCircularSelfDependency: testing,
    ignoredCircularDependencies: [
      ['tag:type:testing', 'tag:type:core'],
      ['tag:type:testing', 'tag:type:infra'],
    ],
    depConstraints: [
      { sourceTag: 'type:core', onlyDependOnLibsWithTags: testing ? ['type:testing'] : [] },
      { sourceTag: 'type:util', onlyDependOnLibsWithTags: [] },
      {
        sourceTag: 'type:infra',
        onlyDependOnLibsWithTags: [
          'type:core',
          'type:util',
          'type:infra',
          ...(testing ? ['type:testing'] : []),
        ],
      },
      {
        sourceTag: 'type:service',
        onlyDependOnLibsWithTags: [
          'type:core',
          'type:util',
          'type:infra',
          ...(testing ? ['type:testing'] : []),
        ],
      },
      // Never the test kit, not even from a spec: what the launchers share with tests lives in
      // @temps/runtime (a private redis-server, a free port, the workspace's folders).
      {
        sourceTag: 'type:launcher',
        onlyDependOnLibsWithTags: ['type:core', 'type:util', 'type:infra'],
      },
      {
        sourceTag: 'type:testing',
        onlyDependOnLibsWithTags: ['type:core', 'type:util', 'type:infra'],
      },
      {
        sourceTag: 'type:e2e',
        onlyDependOnLibsWithTags: ['type:core', 'type:util', 'type:infra', 'type:testing'],
      },
    ],
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.nx/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-console': 'error',
    },
  },
  { plugins: { '@nx': nx } },
  { rules: { '@nx/enforce-module-boundaries': boundaries({ testing: false }) } },
  { files: TEST_FILES, rules: { '@nx/enforce-module-boundaries': boundaries({ testing: true }) } },
  // The same for the launchers without the project graph (which the boundary rule needs to run).
  {
    files: ['tools/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: '@temps/testing',
              message:
                'The launchers run for users: take it from @temps/runtime, or move it there.',
            },
          ],
        },
      ],
    },
  },
  { files: ['**/*.cjs', '**/*.js'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  // Benchmarks report to the console.
  { files: ['**/bench/**/*.ts'], rules: { 'no-console': 'off' } },
);
