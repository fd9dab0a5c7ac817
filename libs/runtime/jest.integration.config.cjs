// Integration specs: private servers and real processes (the `integration` target, never cached).
module.exports = {
  displayName: 'runtime-integration',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  testTimeout: 120_000,
};
