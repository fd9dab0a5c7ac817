module.exports = {
  displayName: 'e2e-compose',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.spec.ts'],
  // Images are built and containers stopped for minutes, for real.
  testTimeout: 900_000,
};
