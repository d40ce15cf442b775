/**
 * `npm run bench:engine`: latency of the decision engine on data-centre-sized
 * inputs. Scenarios are generated from a fixed seed so runs compare.
 */
import { createCloudsimLrTest, createCloudsimThrTest } from '../../src/engine/cloudsim/detectors';
import { minimumMigrationTime } from '../../src/engine/cloudsim/selection';
import { createIqrThreshold, createLoess, createMadThreshold } from '../../src/engine/overload/statistics';
import { createMhod, mhodParamSpecs } from '../../src/engine/overload/mhod/mhod';
import { parseParams } from '../../src/engine/params';
import { createBestFitDecreasing } from '../../src/engine/placement/bfd';
import { pabfdPlace } from '../../src/engine/placement/pabfd';
import type { CloudsimPolicy, PlanningHost, PlanningVm } from '../../src/engine/placement/pabfd';
import { HP_PROLIANT_ML110_G4, HP_PROLIANT_ML110_G5 } from '../../src/engine/power';
import type { PlacementInput, Rng } from '../../src/engine/types';
import { createRng } from '../../src/rng';
import { measure, printTimings } from './harness';
import type { Timing } from './harness';

const HOSTS = 800;
const ACTIVE_HOSTS = 300;
/** CloudSim's PlanetLab VM types: MIPS and RAM. */
const VM_TYPES = [{ mips: 2500, ramMb: 870 }, { mips: 2000, ramMb: 1740 }, { mips: 1000, ramMb: 1740 }, { mips: 500, ramMb: 613 }];

function historyOf(rng: Rng, length: number): number[] {
  let level = rng.next() * 0.3;
  return Array.from({ length }, () => {
    level = Math.min(1, Math.max(0, level + (rng.next() - 0.5) * 0.1));
    return level;
  });
}

function planningVm(rng: Rng, id: string, peMips: number): PlanningVm {
  const type = VM_TYPES[Math.floor(rng.next() * VM_TYPES.length)];
  const historyNewestFirst = historyOf(rng, 30);
  const utilization = historyNewestFirst[0];
  const requestedMips = utilization * type.mips;
  return {
    id, mips: type.mips, pes: 1, ramMb: type.ramMb, requestedMips, requestedRamMb: type.ramMb,
    requestedBwKbitPerS: 100_000, allocatedMips: Math.min(requestedMips, peMips), migratingIn: false,
    inMigration: false, utilization, historyNewestFirst,
  };
}

/** 800 G4/G5 hosts, 300 of them running 2–3 VMs, the rest switched off. */
function dataCentre(rng: Rng): PlanningHost[] {
  return Array.from({ length: HOSTS }, (_, id) => {
    const g5 = id % 2 === 1;
    const peMips = g5 ? 2660 : 1860;
    const vms = id < ACTIVE_HOSTS
      ? Array.from({ length: 2 + Math.floor(rng.next() * 2) }, (_, k) => planningVm(rng, `h${id}-vm${k}`, peMips))
      : [];
    const allocated = vms.reduce((a, v) => a + v.allocatedMips, 0);
    return {
      id, pes: 2, peMips, availableMips: 2 * peMips - allocated,
      availableRamMb: 4096 - vms.reduce((a, v) => a + v.requestedRamMb, 0),
      availableBwKbitPerS: 1_000_000 - vms.length * 100_000, bwKbitPerS: 1_000_000,
      utilization: Math.min(allocated / (2 * peMips), 1), power: g5 ? HP_PROLIANT_ML110_G5 : HP_PROLIANT_ML110_G4, vms,
    };
  });
}

function neatPlacementInput(rng: Rng, hosts: readonly PlanningHost[], vmCount: number): PlacementInput {
  const vms = Array.from({ length: vmCount }, (_, k) => planningVm(rng, `new${k}`, 2660));
  return {
    hosts: hosts.filter((h) => h.vms.length > 0).map((h) => ({
      name: `host${h.id}`, cpuUsageMhz: Math.round(h.pes * h.peMips - h.availableMips), cpuTotalMhz: h.pes * h.peMips,
      ramUsageMb: 4096 - h.availableRamMb, ramTotalMb: 4096,
    })),
    inactiveHosts: hosts.filter((h) => h.vms.length === 0).map((h) => ({ name: `host${h.id}`, cpuMhz: h.pes * h.peMips, ramMb: 4096 })),
    vmsCpuMhz: Object.fromEntries(vms.map((v) => [v.id, v.historyNewestFirst.slice(0, 2).reverse().map((u) => Math.round(u * v.mips))])),
    vmsRamMb: Object.fromEntries(vms.map((v) => [v.id, v.ramMb])),
  };
}

function placementTimings(): Timing[] {
  const rng = createRng('bench-engine');
  const hosts = dataCentre(rng);
  const thr: CloudsimPolicy = { isOverUtilized: createCloudsimThrTest({ threshold: 0.8 }), selectVm: minimumMigrationTime };
  const lr: CloudsimPolicy = { isOverUtilized: createCloudsimLrTest({ safety: 1.2 }, 300), selectVm: minimumMigrationTime };
  const bfd = createBestFitDecreasing({ cpu_threshold: 0.8, ram_threshold: 0.95, last_n_vm_cpu: 2 });
  const none = new Set<number>();
  const timings: Timing[] = [];
  for (const vmCount of [100, 1000]) {
    const vms = Array.from({ length: vmCount }, (_, k) => planningVm(rng, `new${k}`, 2660));
    const runs = vmCount === 100 ? 200 : 20;
    const neatInput = neatPlacementInput(rng, hosts, vmCount);
    timings.push(measure(`BFD (Neat), ${vmCount} VMs onto ${HOSTS} hosts`, { warmupRuns: 5, runs },
      () => bfd.place(neatInput, {})));
    timings.push(measure(`PABFD with THR-0.8, ${vmCount} VMs onto ${HOSTS} hosts`, { warmupRuns: 5, runs },
      () => pabfdPlace(hosts, vms, none, thr)));
    timings.push(measure(`PABFD with LR-1.2, ${vmCount} VMs onto ${HOSTS} hosts`, { warmupRuns: 5, runs },
      () => pabfdPlace(hosts, vms, none, lr)));
  }
  return timings;
}

function detectorTimings(): Timing[] {
  const rng = createRng('bench-detectors');
  const context = { timeStepS: 300, migrationTimeS: 20 };
  const mhod = createMhod(context, parseParams('mhod', mhodParamSpecs, {}));
  const mhodHistory = historyOf(rng, 100).map((u) => u * 1.2);
  const mhodState = mhod.initialState();
  const lr = createLoess(context, { threshold: 1, param: 1.2, length: 10 });
  const lrHistory = historyOf(rng, 10);
  const mad = createMadThreshold(context, { threshold: 2.5, limit: 30 });
  const iqr = createIqrThreshold(context, { threshold: 1.5, limit: 30 });
  const history30 = historyOf(rng, 30);
  const options = { warmupRuns: 200, runs: 2000 };
  return [
    measure('MHOD, 100-value history (Neat defaults)', { warmupRuns: 20, runs: 300 }, () => mhod.detect(mhodHistory, mhodState)),
    measure('LR (loess), 10 values', options, () => lr.detect(lrHistory, {})),
    measure('MAD threshold, 30 values', options, () => mad.detect(history30, {})),
    measure('IQR threshold, 30 values', options, () => iqr.detect(history30, {})),
  ];
}

function main(): void {
  console.log(`node ${process.version}, ${process.arch}`);
  printTimings('Placement', placementTimings());
  printTimings('Detectors', detectorTimings());
}

main();
