'use strict';
// Every row of CloudSim 3.0.3's table (`npm run test:fidelity`): five PlanetLab days, a file each, on 2 workers.
module.exports = {
  rootDir: 'dist',
  testMatch: ['**/test/fidelity/**/*.fidelity.js'],
  testEnvironment: 'node',
  transform: {},
  maxWorkers: 2,
  testTimeout: 120_000,
};
