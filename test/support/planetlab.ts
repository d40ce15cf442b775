/** The PlanetLab traces beside the project (`../shared/traces/planetlab`), which tests read but never copy. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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

/** The directory of one day, or null (with the reason printed) when the shared traces are not beside the project. */
export function planetLabDay(day: string): string | null {
  const path = join(PLANETLAB_ROOT, day);
  if (existsSync(path)) return path;
  console.log(`skipped: ${path} is absent (the shared PlanetLab traces are expected beside the project)`);
  return null;
}
