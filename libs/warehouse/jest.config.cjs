module.exports = {
  displayName: 'warehouse',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/{src,test}/**/*.spec.ts'],
  // Integration suites create databases on the machine's PostgreSQL and open PGlite folders.
  testTimeout: 120_000,
};
