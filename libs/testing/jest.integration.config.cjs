// Integration specs: private servers and real processes (the `integration` target, never cached).
module.exports = {
  displayName: 'testing-integration',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  testTimeout: 120_000,
};
