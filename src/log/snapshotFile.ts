/**
 * Where the global manager keeps its snapshot: one file beside the log,
 * replaced atomically, so that a crash leaves the old snapshot or the new
 * one, never half of one. A snapshot is never the truth: the log is.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomically } from '../atomicFile';
import type { SnapshotStore } from '../managers/ports';

export class FileSnapshotStore implements SnapshotStore {
  readonly description: string;

  constructor(readonly path: string) {
    this.description = `snapshot file ${path}`;
  }

  // Synchronous inside: a simulated run waits for no real I/O (sim/virtualTime.ts), and a file is quick to read.
  async read(): Promise<Buffer | null> {
    try {
      return readFileSync(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async write(text: string): Promise<void> {
    writeFileAtomically(this.path, text);
  }
}

/** The snapshot file of a SQLite log. */
export function snapshotPathOf(logPath: string): string {
  return `${logPath}.snapshot`;
}
