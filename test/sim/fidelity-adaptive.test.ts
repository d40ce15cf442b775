import { expectCloudsimFigures } from './fidelity';

describe('fidelity to CloudSim: the adaptive thresholds and local regression', () => {
  test('IQR-MMT-1.5', async () => {
    await expectCloudsimFigures('iqr-mmt-1.5');
  });

  test('MAD-MMT-2.5', async () => {
    await expectCloudsimFigures('mad-mmt-2.5');
  });

  test('LR-MMT-1.2, and LRR-MMT-1.2 equal to it as in CloudSim 3.0.3', async () => {
    const lr = await expectCloudsimFigures('lr-mmt-1.2');
    const lrr = await expectCloudsimFigures('lrr-mmt-1.2');
    expect(lrr).toEqual(lr);
  });
});
