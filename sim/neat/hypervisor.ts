/**
 * The Hypervisor port on a simulated host: what its VMs got of the CPU at the
 * processing time being recorded (the MIPS the host allocated them, which is
 * what CloudSim's metrics count), their RAM, and the host's capacity. A
 * simulated host has no hypervisor overhead and no counters to difference, so
 * every value is there from the first reading.
 */
import type { HostReading, Hypervisor } from '../../src/agent/hypervisor';
import type { SimHost } from '../cloudsim/model';
import type { StateHistory } from '../stateHistory';

export class SimulatedHypervisor implements Hypervisor {
  constructor(
    private readonly host: SimHost,
    private readonly history: StateHistory,
    private readonly clock: { readonly timeS: number },
  ) {}

  /** Taken when called, not when awaited: every host of a tick is read at the same instant of the simulated data centre. */
  read(): Promise<HostReading> {
    const vms: { vmId: string; cpuMhz: number; ramMb: number }[] = [];
    for (const vm of this.host.vms) {
      const cpuMhz = this.history.allocatedMipsOf(vm);
      // A VM migrating between two hosts is reported by the one whose state history speaks for it.
      if (cpuMhz !== null && vm.tableHost === this.host) vms.push({ vmId: vm.id, cpuMhz, ramMb: vm.ramMb });
    }
    return Promise.resolve({
      timeS: this.clock.timeS,
      capacity: { cores: this.host.pes, coreMhz: this.host.peMips, ramMb: this.host.ramMb },
      vms,
      hypervisorCpuMhz: 0,
    });
  }
}
