module.exports = {
  displayName: 'averages',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/{src,test}/**/*.spec.ts'],
  // Integration suites start private Redis servers and real averages processes.
  testTimeout: 120_000,
};
