// Integration specs: private servers and real processes (the `integration` target, never cached).
module.exports = {
  displayName: 'warehouse-integration',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  // Integration suites create databases on the machine's PostgreSQL and open PGlite folders.
  testTimeout: 120_000,
};
