/**
 * Mode `cloudsim` against CloudSim 3.0.3's own figures on PlanetLab 20110303
 * (every detector × selection, and DVFS): `npm test` runs this day;
 * `npm run test:fidelity` runs every row of every day (test/fidelity/).
 */
import { runSimulation } from '../../sim/run';
import { describeCloudsimDay, dayTrace } from './cloudsimTable';

describeCloudsimDay('20110303');

const npaTest = dayTrace('20110303') === null ? test.skip : test;

// NPA is not in the table: it has its own main in CloudSim, and its energy does not depend on the VM-to-trace mapping.
npaTest('NPA on 20110303: every host at full power all day, 2410.80 kWh, no migration (reference/cloudsim.md §3)', async () => {
  const trace = dayTrace('20110303');
  if (trace === null) throw new Error('unreachable: the test is skipped without the trace');
  const { metrics } = await runSimulation({ trace, mode: 'cloudsim', policy: 'npa', seed: '1' });
  expect(metrics.energyKwh.toFixed(2)).toBe('2410.80');
  expect(metrics.migrations).toBe(0);
});
