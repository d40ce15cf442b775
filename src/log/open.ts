/** The configured event log: the embedded SQLite file, or a KurrentDB server. */
import type { EventLogLocation } from '../config';
import { KurrentDbEventLog } from './kurrentdb';
import type { EventLog } from './port';
import { SqliteEventLog } from './sqlite';

export function openEventLog(location: EventLogLocation): EventLog {
  // A service takes concurrent requests: one fsync per turn of the event loop, not one per request.
  return location.kind === 'sqlite' ? new SqliteEventLog(location.path, { groupCommit: true }) : new KurrentDbEventLog(location.connectionString);
}
