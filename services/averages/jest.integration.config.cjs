// Integration specs: private servers and real processes (the `integration` target, never cached).
module.exports = {
  displayName: 'averages-integration',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  // Integration suites start private Redis servers and real averages processes.
  testTimeout: 120_000,
};
