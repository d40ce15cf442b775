/**
 * Replacing a file so that a crash leaves the old one or the new one, whole:
 * written to a temporary file beside it, synced, renamed over it, and the
 * directory synced so that the rename itself survives a power loss.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileAtomically(path: string, text: string): void {
  const temporary = `${path}.tmp`;
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const directory = openSync(dirname(path), 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}
