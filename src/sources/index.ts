/** The sample source `samples_source` names, or null when agents post their samples (`POST /v1/samples`). */
import type { ManagerConfig } from '../config';
import { openNeatDb } from './neatDb';
import type { SampleSource } from './port';

export { openNeatDb } from './neatDb';

export function openSampleSource(config: ManagerConfig): SampleSource | null {
  if (config.samplesSource === 'agents') return null;
  if (config.samplesSource === 'neat-db') return openNeatDb(config);
  throw new Error(`samples_source = ${config.samplesSource} is not available in this build`);
}
