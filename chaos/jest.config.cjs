module.exports = {
  displayName: 'chaos',
  preset: '../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  // Each scenario runs the whole pipeline as real processes: one at a time on two cores.
  maxWorkers: 1,
  testTimeout: 900_000,
  reporters: ['default', '<rootDir>/ledger-reporter.cjs'],
};
