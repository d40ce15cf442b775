'use strict';
// The real-OpenStack suite (`npm run test:nova`): needs the harness of
// test/openstack/harness running; kept out of `npm test`, which needs no OpenStack.
module.exports = {
  rootDir: 'dist',
  testMatch: ['**/test/openstack/**/*.itest.js'],
  testEnvironment: 'node',
  transform: {},
  testTimeout: 240_000,
};
