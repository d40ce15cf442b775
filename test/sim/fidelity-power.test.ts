import { runSimulation } from '../../sim/run';
import { day20110303, expectCloudsimFigures } from './fidelity';

// CloudSim 3.0.3 on PlanetLab 20110303 (reference/cloudsim.md §3); each run takes a few seconds.
describe('fidelity to CloudSim: the power-aware baselines and THR', () => {
  test('NPA: every host at full power, 2410.8 kWh', async () => {
    const trace = day20110303();
    if (trace === null) return;
    const { metrics } = await runSimulation({ trace, mode: 'cloudsim', policy: 'npa', seed: '1' });
    expect(metrics.energyKwh.toFixed(1)).toBe('2410.8');
    expect(metrics.migrations).toBe(0);
  });

  test('DVFS: first fit, no migrations', async () => {
    await expectCloudsimFigures('dvfs');
  });

  test('THR-MMT-0.8', async () => {
    await expectCloudsimFigures('thr-mmt-0.8');
  });
});
