/**
 * CloudSim's experiment metrics as a projection over a run's events, so that
 * a simulated run and a replay of its log report the same numbers. Each
 * formula is the one of CloudSim's `examples.power.Helper` over the host and
 * VM state histories (here: the `DataCentreUpdated` events):
 *
 * - energy: the sum of what the hosts drew between processing times (the
 *   simulator meters it as CloudSim's `PowerDatacenter` does);
 * - SLATAH: time active with allocated < requested, over time active;
 * - PDM: MIPS·s requested but not allocated while migrating out, over all MIPS·s requested;
 * - overall SLA violation: (requested − allocated) / requested over all VMs and intervals;
 * - host shutdowns: active → inactive transitions, with the time since the last switch-on
 *   (CloudSim: a host whose allocation drops to 0; mode `neat`, where an idle host stays
 *   on until it is suspended: a `HostSuspended`, since the start or the last `HostWoken`);
 * - migration duration: CloudSim's "time before a VM migration", which measures from
 *   entering migration to leaving it.
 */
import { assert } from '../src/engine/assert';
import { RunningMean } from '../src/engine/numeric';
import type { EventData } from '../src/events/catalogue';
import { hostNameOf } from './config';
import type { SimulationConfig } from './config';

export interface SimulationMetrics {
  readonly energyKwh: number;
  readonly migrations: number;
  readonly slatah: number;
  readonly pdm: number;
  readonly slav: number;
  readonly esv: number;
  readonly overallSlaViolation: number;
  readonly averageSlaViolation: number;
  readonly hostShutdowns: number;
  readonly meanTimeBeforeHostShutdownS: number;
  readonly meanMigrationDurationS: number;
  readonly hosts: number;
  readonly vms: number;
  /** Time of the last processing update. */
  readonly simulatedS: number;
}

const WS_PER_KWH = 3_600_000;

/** What counts as a host shutdown: CloudSim's idle host, or a suspended one (mode `neat`). */
export type ShutdownRule = 'idle' | 'suspended';

export class MetricsProjection {
  private readonly hostCount: number;
  private readonly hostIndexByName: ReadonlyMap<string, number>;
  private updates = 0;
  private migrations = 0;
  private lastTimeS = -1;
  private energyWs = 0;
  // Hosts: the previous state-history entry and the accumulators of Helper's loops.
  private readonly hostAllocated: Float64Array;
  private readonly hostRequested: Float64Array;
  private readonly hostActive: Uint8Array;
  private readonly hostLastSwitchOnS: Float64Array;
  private activeTimeS = 0;
  private violationTimeS = 0;
  private readonly timesBeforeShutdownS = new RunningMean();
  // VMs.
  private readonly vmAllocated: Float64Array;
  private readonly vmRequested: Float64Array;
  private readonly vmInMigration: Uint8Array;
  private readonly vmSeen: Uint8Array;
  private readonly vmMigrationStartS: Float64Array;
  private totalRequestedMipsS = 0;
  private totalAllocatedMipsS = 0;
  private underAllocatedInMigrationMipsS = 0;
  private readonly violationShares = new RunningMean();
  private readonly migrationDurationsS = new RunningMean();
  /** Event clock minus simulated time. */
  private clockOffsetS: number | null = null;

  constructor(private readonly config: SimulationConfig, private readonly shutdowns: ShutdownRule) {
    const hostCount = config.hosts.length;
    this.hostIndexByName = new Map(config.hosts.map((_type, index) => [hostNameOf(config, index), index]));
    const vmCount = config.vms.length;
    this.hostCount = hostCount;
    this.hostAllocated = new Float64Array(hostCount);
    this.hostRequested = new Float64Array(hostCount);
    this.hostActive = new Uint8Array(hostCount).fill(1);
    this.hostLastSwitchOnS = new Float64Array(hostCount);
    this.vmAllocated = new Float64Array(vmCount);
    this.vmRequested = new Float64Array(vmCount);
    this.vmInMigration = new Uint8Array(vmCount);
    this.vmSeen = new Uint8Array(vmCount);
    this.vmMigrationStartS = new Float64Array(vmCount);
  }

  migrationStarted(): void {
    this.migrations += 1;
  }

  /**
   * A host suspended or woken, by the clock that stamped the event (counted
   * under the `suspended` rule only). That clock may be the simulation's
   * shifted to a real date (`neat serve --sim`); the first update tells by how much.
   */
  /** A power change of the host named `host`. */
  hostPower(host: string, clockS: number, change: 'suspended' | 'woken'): void {
    const hostIndex = this.hostIndexByName.get(host);
    assert(hostIndex !== undefined, () => `no host "${host}" in the run's configuration`);
    if (this.shutdowns !== 'suspended') return;
    assert(this.clockOffsetS !== null, 'a power change comes after the first update');
    const timeS = clockS - this.clockOffsetS;
    if (change === 'suspended') this.timesBeforeShutdownS.add(timeS - this.hostLastSwitchOnS[hostIndex]);
    else this.hostLastSwitchOnS[hostIndex] = timeS;
  }

  /**
   * The run started (simulated time 0) at `clockS` by the clock that stamps
   * its events. The first update cannot tell: it is written when the next
   * processing starts, so it carries the clock of that later time.
   */
  started(clockS: number): void {
    this.clockOffsetS = clockS;
  }

  /** `clockS`: the update's time by the clock that stamped the event. */
  updated(update: EventData<'DataCentreUpdated'>, clockS: number): void {
    // A run resumed from its log folds no start; its clock is the simulation's own (epoch 0), as every run's is.
    this.clockOffsetS ??= clockS - update.timeS;
    const hostCount = this.hostCount;
    const vmCount = this.vmAllocated.length;
    assert(update.hostAllocatedMips.length === hostCount && update.hostRequestedMips.length === hostCount,
      () => `an update must describe all ${hostCount} hosts`);
    assert(update.vmHost.length === vmCount && update.vmAllocatedMips.length === vmCount
      && update.vmRequestedMips.length === vmCount && update.vmInMigration.length === vmCount,
    () => `an update must describe all ${vmCount} VMs`);
    assert(update.timeS > this.lastTimeS, () => `updates must move forward in time: ${update.timeS} after ${this.lastTimeS}`);
    const first = this.updates === 0;
    const dtS = first ? 0 : update.timeS - this.lastTimeS;
    this.energyWs += update.energyWs;
    this.updateHosts(update, dtS, first);
    this.updateVms(update, dtS);
    this.lastTimeS = update.timeS;
    this.updates += 1;
  }

  private updateHosts(update: EventData<'DataCentreUpdated'>, dtS: number, first: boolean): void {
    for (let h = 0; h < this.hostCount; h++) {
      const allocated = update.hostAllocatedMips[h];
      const active = allocated > 0 ? 1 : 0;
      if (!first) {
        if (this.hostActive[h] === 1) {
          this.activeTimeS += dtS;
          if (this.hostAllocated[h] < this.hostRequested[h]) this.violationTimeS += dtS;
        }
      }
      if (this.shutdowns === 'idle') {
        if (this.hostActive[h] === 1 && active === 0) this.timesBeforeShutdownS.add(update.timeS - this.hostLastSwitchOnS[h]);
        if (this.hostActive[h] === 0 && active === 1) this.hostLastSwitchOnS[h] = update.timeS;
      }
      this.hostAllocated[h] = allocated;
      this.hostRequested[h] = update.hostRequestedMips[h];
      this.hostActive[h] = active;
    }
  }

  private updateVms(update: EventData<'DataCentreUpdated'>, dtS: number): void {
    for (let v = 0; v < this.vmAllocated.length; v++) {
      // A VM that has no host (never created) has no state history in CloudSim.
      if (update.vmHost[v] < 0) continue;
      if (this.vmSeen[v] === 1) {
        const allocated = this.vmAllocated[v];
        const requested = this.vmRequested[v];
        this.totalAllocatedMipsS += allocated * dtS;
        this.totalRequestedMipsS += requested * dtS;
        if (allocated < requested) {
          this.violationShares.add((requested - allocated) / requested);
          if (this.vmInMigration[v] === 1) this.underAllocatedInMigrationMipsS += (requested - allocated) * dtS;
        }
      }
      const inMigration = update.vmInMigration[v];
      if (this.vmInMigration[v] === 1 && inMigration === 0) this.migrationDurationsS.add(update.timeS - this.vmMigrationStartS[v]);
      if (this.vmInMigration[v] === 0 && inMigration === 1) this.vmMigrationStartS[v] = update.timeS;
      this.vmAllocated[v] = update.vmAllocatedMips[v];
      this.vmRequested[v] = update.vmRequestedMips[v];
      this.vmInMigration[v] = inMigration;
      this.vmSeen[v] = 1;
    }
  }

  result(): SimulationMetrics {
    const energyKwh = this.energyWs / WS_PER_KWH;
    const slatah = this.activeTimeS === 0 ? 0 : this.violationTimeS / this.activeTimeS;
    const pdm = this.totalRequestedMipsS === 0 ? 0 : this.underAllocatedInMigrationMipsS / this.totalRequestedMipsS;
    const slav = slatah * pdm;
    return {
      energyKwh,
      migrations: this.migrations,
      slatah,
      pdm,
      slav,
      esv: energyKwh * slav,
      overallSlaViolation: this.totalRequestedMipsS === 0 ? 0 : (this.totalRequestedMipsS - this.totalAllocatedMipsS) / this.totalRequestedMipsS,
      averageSlaViolation: this.violationShares.value(),
      hostShutdowns: this.timesBeforeShutdownS.count,
      meanTimeBeforeHostShutdownS: this.timesBeforeShutdownS.value(),
      meanMigrationDurationS: this.migrationDurationsS.value(),
      hosts: this.config.hosts.length,
      vms: this.config.vms.length,
      simulatedS: Math.max(0, this.lastTimeS),
    };
  }
}
