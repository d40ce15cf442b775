import { randomUUID } from 'node:crypto';
import { KurrentDbEventLog } from '../../src/log/kurrentdb';
import { describeEventLogContract } from './contract';

// No KurrentDB server can run on this project's machines (no Docker engine, no
// package); the same contract runs here whenever a server is given.
const connectionString = process.env.KURRENTDB_CONNECTION_STRING;

if (connectionString === undefined || connectionString === '') {
  describe('kurrentdb: event log contract', () => {
    test.skip('skipped: set KURRENTDB_CONNECTION_STRING (e.g. kurrentdb://localhost:2113?tls=false) to run it', () => undefined);
  });
  console.log('kurrentdb contract skipped: KURRENTDB_CONNECTION_STRING is not set');
} else {
  let prefix = '';
  describeEventLogContract('kurrentdb', {
    open: () => {
      prefix = `neat-test-${randomUUID()}-`;
      return Promise.resolve(new KurrentDbEventLog(connectionString, { streamPrefix: prefix }));
    },
    reopen: () => Promise.resolve(new KurrentDbEventLog(connectionString, { streamPrefix: prefix })),
  });
}
