/** The PlanetLab traces beside the project (`../shared/traces/planetlab`), which tests read but never copy. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { prerequisite } from './prerequisite';

/** From the compiled test, `<root>/dist/test/...`, the project root is found by its package.json. */
function projectRoot(): string {
  let directory = __dirname;
  for (let depth = 0; depth < 6; depth++) {
    if (existsSync(join(directory, 'package.json'))) return directory;
    directory = join(directory, '..');
  }
  throw new Error(`no package.json above ${__dirname}`);
}

export const PROJECT_ROOT = projectRoot();
export const PLANETLAB_ROOT = join(PROJECT_ROOT, '..', 'shared', 'traces', 'planetlab');

/** The directory of one day, or null when the shared traces are not beside the project (a loud skip; on CI, a failure). */
export function planetLabDay(day: string): string | null {
  const path = join(PLANETLAB_ROOT, day);
  return prerequisite(`PlanetLab day ${path}`, existsSync(path), 'the shared traces are expected in ../shared/traces/planetlab beside the project') ? path : null;
}
