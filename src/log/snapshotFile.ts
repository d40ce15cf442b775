/**
 * Where the global manager keeps its snapshot: one file beside the log,
 * replaced atomically (written to a temporary file, synced, renamed over the
 * old one, the directory synced), so that a crash leaves the old snapshot or
 * the new one, never half of one. A snapshot is never the truth: the log is.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SnapshotStore } from '../managers/ports';

export class FileSnapshotStore implements SnapshotStore {
  readonly description: string;

  constructor(readonly path: string) {
    this.description = `snapshot file ${path}`;
  }

  read(): Buffer | null {
    try {
      return readFileSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  write(text: string): void {
    const temporary = `${this.path}.tmp`;
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, this.path);
    const directory = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(directory);
    } finally {
      closeSync(directory);
    }
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}

/** The snapshot file of a SQLite log. */
export function snapshotPathOf(logPath: string): string {
  return `${logPath}.snapshot`;
}
