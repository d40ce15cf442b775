/** The `#@host` and `#@vm` lines of a CSV trace: read, written back, and refused with the file and line. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordedDataCentreConfig, simulationConfigFor } from '../../sim/config';
import { formatCsvTrace, readCsvTrace } from '../../traces/csv';

let directory: string;
beforeAll(() => { directory = mkdtempSync(join(tmpdir(), 'neat-dc-')); });
afterAll(() => { rmSync(directory, { recursive: true, force: true }); });

const HOSTS = [
  '#@host name=c1 cores=4 core_mhz=2400 ram_mb=16384 power=neat-testbed-linear',
  '#@host name=c2 cores=2 core_mhz=2660 ram_mb=4096 power=hp-proliant-ml110-g5',
];
const SAMPLES = ['time_s,vm_id,cpu_percent,ram_mb', '0,web,10,2048', '0,db,20,4096', '300,web,30,2048', '300,db,40,4096'];

function read(lines: readonly string[]): ReturnType<typeof readCsvTrace> {
  const path = join(directory, 'trace.csv');
  writeFileSync(path, lines.join('\n') + '\n');
  return readCsvTrace(path);
}

test('a trace with its data centre reads, simulates on its own hosts, and writes back the same lines', () => {
  const trace = read([...HOSTS, '#@vm id=web cpu_mhz=2400 host=c2', '#@vm id=db cpu_mhz=4800 host=c1', ...SAMPLES]);
  expect(trace.dataCentre).toEqual({
    hosts: [
      { name: 'c1', cores: 4, coreMhz: 2400, ramMb: 16384, power: 'neat-testbed-linear' },
      { name: 'c2', cores: 2, coreMhz: 2660, ramMb: 4096, power: 'hp-proliant-ml110-g5' },
    ],
    vms: [{ cpuMhz: 2400, host: 'c2' }, { cpuMhz: 4800, host: 'c1' }],
  });
  const config = recordedDataCentreConfig(trace, trace.dataCentre!);
  expect(config.hostNames).toEqual(['c1', 'c2']);
  expect(config.placement).toEqual([1, 0]);
  expect(config.hostTypes.map((type) => [type.pes, type.peMips, type.ramMb, type.power])).toEqual([[4, 2400, 16384, 'neat-testbed-linear'], [2, 2660, 4096, 'hp-proliant-ml110-g5']]);
  expect(config.vmTypes.map((type) => type.mips)).toEqual([2400, 4800]);
  expect(config.limitS).toBe(300);
  // --hosts does not apply to a trace with its own data centre.
  expect(simulationConfigFor(trace, 800, 'neat').hosts).toHaveLength(2);
  expect(simulationConfigFor(trace, 800, 'cloudsim').placement).toBeUndefined();
  const written = formatCsvTrace(trace);
  expect(written.split('\n').slice(0, 4)).toEqual([...HOSTS, '#@vm id=web cpu_mhz=2400 host=c2', '#@vm id=db cpu_mhz=4800 host=c1']);
  expect(read(written.trimEnd().split('\n')).dataCentre).toEqual(trace.dataCentre);
});

test.each([
  [['#@rack name=r1', ...SAMPLES], 'trace.csv:1: unknown data-centre line "#@rack"; known: #@host, #@vm'],
  [['#@host name=c1 cores=4 core_mhz=2400 ram_mb=16384', ...SAMPLES], 'trace.csv:1: missing power=…'],
  [['#@host name=c1 cores=4.5 core_mhz=2400 ram_mb=16384 power=neat-testbed-linear', ...SAMPLES], 'trace.csv:1: cores "4.5" is not a positive integer'],
  [['#@host name=c1 cores=4 core_mhz=2400 ram_mb=16384 power=ibm', ...SAMPLES], 'trace.csv:1: power "ibm" is not a known power model'],
  [[HOSTS[0], HOSTS[0], ...SAMPLES], 'trace.csv:2: host "c1" is declared twice (first on line 1)'],
  [[...HOSTS, '#@vm id=web cpu_mhz=2400 host=c2', ...SAMPLES], 'trace.csv:6: VM "db" (first seen on this line) has no #@vm line'],
  [[...HOSTS, '#@vm id=web cpu_mhz=2400 host=c9', '#@vm id=db cpu_mhz=1 host=c1', ...SAMPLES], 'trace.csv:3: host "c9" has no #@host line'],
  [[...HOSTS, '#@vm id=web cpu_mhz=2400 host=c2', '#@vm id=db cpu_mhz=1 host=c2', ...SAMPLES], 'trace.csv:4: VM "db" (4096 MB) does not fit the RAM left on host "c2"'],
  [[...HOSTS, '#@vm id=web cpu_mhz=2400 host=c2', '#@vm id=db cpu_mhz=1 host=c1', '#@vm id=cache cpu_mhz=1 host=c1', ...SAMPLES],
    'trace.csv:5: VM "cache" has a #@vm line but no samples'],
  [['#@vm id=web cpu_mhz=2400 host=c2', ...SAMPLES], 'trace.csv:1: #@vm lines without any #@host line'],
  [[...HOSTS, '#@vm id=web cpu_mhz=2400 host=c2 rack=r1', ...SAMPLES], 'trace.csv:3: unexpected field "rack=r1"'],
])('refused: %j', (lines, message) => {
  expect(() => read(lines)).toThrow(message);
});

test('a trace without RAM cannot place its VMs', () => {
  expect(() => read([...HOSTS, '#@vm id=web cpu_mhz=2400 host=c2', 'time_s,vm_id,cpu_percent', '0,web,1', '300,web,2']))
    .toThrow('trace.csv:3: VM "web" has no ram_mb in its samples; a data centre places VMs by RAM');
});
