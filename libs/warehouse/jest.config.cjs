// Unit specs: beside the code, no servers or processes (the `test` target, cached by Nx).
module.exports = {
  displayName: 'warehouse',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
