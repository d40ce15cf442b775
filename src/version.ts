/** The product's version, as package.json states it; recorded in every simulation log. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CODE_VERSION: string = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
