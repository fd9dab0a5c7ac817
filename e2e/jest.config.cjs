module.exports = {
  displayName: 'e2e',
  preset: '../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  // The stack, Prometheus and `npm ci` run for real.
  testTimeout: 240_000,
};
