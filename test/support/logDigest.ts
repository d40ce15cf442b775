/** A digest of every event stored in a SQLite log file, byte for byte and in order: what "byte-identical logs" is checked with. */
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';

export function logDigest(path: string): { digest: string; events: number } {
  const db = new Database(path, { readonly: true });
  const hash = createHash('sha256');
  let events = 0;
  for (const row of db.prepare('SELECT position, event_id, stream, revision, type, body FROM events ORDER BY position').raw().iterate()) {
    hash.update(JSON.stringify(row));
    events += 1;
  }
  db.close();
  return { digest: hash.digest('hex'), events };
}
