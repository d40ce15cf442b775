/**
 * The sample source `samples_source` names, or null when agents post their
 * samples (`POST /v1/samples`). Each source's module (and its client: mysql2
 * for neat-db) is loaded only when it is the one configured.
 */
import { createRequire } from 'node:module';
import type { ManagerConfig } from '../config';
import type { KeystoneSession } from '../drivers/keystone';
import type { SampleSource } from './port';

const load = createRequire(__filename);

/** `keystone`: the Nova driver's session, which `prometheus_auth = keystone` (Aetos) authenticates with. */
export function openSampleSource(config: ManagerConfig, keystone: Pick<KeystoneSession, 'current' | 'invalidate'>): SampleSource | null {
  switch (config.samplesSource) {
    case 'agents':
      return null;
    case 'neat-db':
      return (load('./neatDb') as typeof import('./neatDb')).openNeatDb(config);
    case 'prometheus':
      return (load('./prometheus') as typeof import('./prometheus')).openPrometheus(config, { keystone });
  }
}
