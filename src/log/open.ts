/** The configured event log: the embedded SQLite file, a PostgreSQL database, or a KurrentDB server. */
import type { EventLogLocation } from '../config';
import { KurrentDbEventLog } from './kurrentdb';
import type { EventLog } from './port';
import { PostgresEventLog } from './postgres';
import { SqliteEventLog } from './sqlite';

export function openEventLog(location: EventLogLocation): EventLog {
  switch (location.kind) {
    // A service takes concurrent requests: one fsync per turn of the event loop, not one per request.
    case 'sqlite': return new SqliteEventLog(location.path, { groupCommit: true });
    case 'postgresql': return new PostgresEventLog(location.connectionString);
    case 'kurrentdb': return new KurrentDbEventLog(location.connectionString);
  }
}
