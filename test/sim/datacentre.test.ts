import { INSTANT_TRANSITIONS, SimulatedDataCentre } from '../../sim/datacentre';
import type { PowerTransitions } from '../../sim/datacentre';
import { planetLabConfig } from '../../sim/config';
import { Scheduler } from '../../sim/scheduler';
import { seededIds } from '../../src/ids';
import { createRng } from '../../src/rng';
import { generateSyntheticTrace } from '../../traces/synthetic';

function dataCentre(transitions: PowerTransitions = INSTANT_TRANSITIONS): { dc: SimulatedDataCentre; scheduler: Scheduler } {
  const trace = generateSyntheticTrace({ seed: 'dc', vms: 4, steps: 288, stepS: 300 });
  const scheduler = new Scheduler();
  const config = planetLabConfig(4, trace.vms.map((v) => v.ramMb), 4);
  const dc = new SimulatedDataCentre({ config, trace, scheduler, ids: seededIds(createRng(1), scheduler), transitions, placement: [1, 1, 3, 3] });
  return { dc, scheduler };
}

describe('the simulated data centre behind the Cloud and Power ports', () => {
  test('lists hosts with their state and VMs with their host', async () => {
    const { dc } = dataCentre();
    expect((await dc.listHosts()).map((h) => [h.name, h.state, h.cpuMhz])).toEqual([
      ['host-0', 'up', 3720], ['host-1', 'up', 5320], ['host-2', 'up', 3720], ['host-3', 'up', 5320]]);
    expect((await dc.listVms()).map((v) => [v.id, v.host, v.status])).toEqual([
      ['vm-0', 'host-1', 'ACTIVE'], ['vm-1', 'host-1', 'ACTIVE'], ['vm-2', 'host-3', 'ACTIVE'], ['vm-3', 'host-3', 'ACTIVE']]);
    expect(await dc.getVm('nope')).toBeNull();
  });

  test('a live migration runs RAM / (bandwidth / 2) seconds of virtual time, then the VM is on the target', async () => {
    const { dc, scheduler } = dataCentre();
    const vm = (await dc.getVm('vm-0'))!;
    const handle = await dc.startLiveMigration('vm-0', 'host-0');
    expect((await dc.getVm('vm-0'))?.status).toBe('MIGRATING');
    expect(await dc.migrationStatus(handle)).toEqual({ state: 'running', error: null });
    const durationS = vm.ramMb / (1_000_000 / 16_000);
    scheduler.run(durationS - 0.001, 10);
    expect((await dc.migrationStatus(handle)).state).toBe('running');
    scheduler.run(durationS, 10);
    expect(await dc.migrationStatus(handle)).toEqual({ state: 'completed', error: null });
    expect(await dc.getVm('vm-0')).toMatchObject({ host: 'host-0', status: 'ACTIVE' });
  });

  test('refuses what Nova would refuse: unknown VM or host, same host, a VM already migrating, a host that is down', async () => {
    const { dc } = dataCentre();
    await expect(dc.startLiveMigration('nope', 'host-0')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(dc.startLiveMigration('vm-0', 'host-9')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(dc.startLiveMigration('vm-0', 'host-1')).rejects.toMatchObject({ kind: 'bad-request' });
    await dc.startLiveMigration('vm-0', 'host-0');
    await expect(dc.startLiveMigration('vm-0', 'host-2')).rejects.toMatchObject({ kind: 'conflict' });
    await dc.suspend('host-2');
    await expect(dc.startLiveMigration('vm-1', 'host-2')).rejects.toThrow('host "host-2" is not up');
  });

  test('a target whose network its VMs already take refuses a migration in, as a conflict (Nova\'s scheduler would refuse it)', async () => {
    const trace = generateSyntheticTrace({ seed: 'dc', vms: 4, steps: 288, stepS: 300 });
    const scheduler = new Scheduler();
    const planetLab = planetLabConfig(4, trace.vms.map((v) => v.ramMb), 4);
    // Room for two VMs' bandwidth a host: host-3 is full with vm-2 and vm-3.
    const config = { ...planetLab, hostTypes: planetLab.hostTypes.map((type) => ({ ...type, bwKbitPerS: 2 * planetLab.vmTypes[0].bwKbitPerS })) };
    const dc = new SimulatedDataCentre({ config, trace, scheduler, ids: seededIds(createRng(1), scheduler), transitions: INSTANT_TRANSITIONS, placement: [1, 1, 3, 3] });
    await expect(dc.startLiveMigration('vm-0', 'host-3')).rejects.toMatchObject({ kind: 'conflict' });
    await expect(dc.startLiveMigration('vm-0', 'host-3')).rejects.toThrow(/kbit\/s of bandwidth free/);
    expect(await dc.getVm('vm-0')).toMatchObject({ host: 'host-1', status: 'ACTIVE' });
    await expect(dc.startLiveMigration('vm-0', 'host-2')).resolves.toEqual(expect.any(String));
  });

  test('a host with VMs cannot be suspended; an empty one can, and wakes again, with the configured latencies', async () => {
    const { dc, scheduler } = dataCentre({ suspendLatencyS: 5, wakeLatencyS: 60, suspendEnergyWs: 100, wakeEnergyWs: 200, sleepPowerW: 10 });
    await expect(dc.suspend('host-1')).rejects.toThrow('still runs 2 VM(s)');
    await dc.suspend('host-0');
    expect(dc.powerStates[0]).toBe('suspending');
    scheduler.run(5, 10);
    expect(dc.powerStates[0]).toBe('asleep');
    expect((await dc.listHosts())[0].state).toBe('down');
    await expect(dc.suspend('host-0')).rejects.toThrow('host "host-0" is asleep, not active');
    await dc.wake('host-0');
    scheduler.run(64.9, 10);
    expect(dc.powerStates[0]).toBe('waking');
    scheduler.run(65, 10);
    expect(dc.powerStates[0]).toBe('active');
    expect((await dc.listHosts())[0].state).toBe('up');
    expect(dc.energyWs).toBeGreaterThanOrEqual(300);
  });
});
