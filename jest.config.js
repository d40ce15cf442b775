'use strict';
// Tests run on the compiled output: `npm test` type-checks and compiles once with tsc,
// so jest needs no TypeScript transformer.
module.exports = {
  rootDir: 'dist',
  testMatch: ['**/test/**/*.test.js'],
  testEnvironment: 'node',
  transform: {},
  // Simulation runs over a PlanetLab day take seconds each on a 2-core CI machine.
  testTimeout: 120_000,
};
