/**
 * The Hypervisor port: what a compute host's agent reads of its host each
 * collection. libvirt (through `virsh`) in production, the simulated data
 * centre in a simulation; the agent loop (`loop.ts`) is the same for both.
 *
 * A reading is already in MHz: turning libvirt's CPU-time counters and
 * `/proc/stat` into MHz (Neat's collector arithmetic) is the libvirt
 * adapter's business, since a simulated host knows its MHz directly.
 */

export interface HostCapacity {
  /** Physical cores (libvirt's nodeinfo `CPU(s)`). */
  readonly cores: number;
  /** One core's clock, MHz. */
  readonly coreMhz: number;
  readonly ramMb: number;
}

export interface VmReading {
  /** The Nova server UUID (the libvirt domain's UUID). */
  readonly vmId: string;
  /**
   * MHz over the last interval; null when there is no interval yet: the VM
   * was first seen in this reading, or the clock went backwards.
   */
  readonly cpuMhz: number | null;
  /** The VM's maximum memory, MB; null when the hypervisor could not tell. */
  readonly ramMb: number | null;
}

export interface HostReading {
  /** When the reading was taken, s (wall clock in production, virtual in a simulation). */
  readonly timeS: number;
  readonly capacity: HostCapacity;
  /** The running VMs; one not running (e.g. migrating in, paused) is left out, as Neat's collector skips it. */
  readonly vms: readonly VmReading[];
  /** The hypervisor's own MHz (host busy minus the VMs', at least 0); null without an interval yet. */
  readonly hypervisorCpuMhz: number | null;
}

export type HypervisorErrorKind =
  /** The program or interface is not there (e.g. `virsh` not installed). */
  | 'unavailable'
  /** It is there, but the hypervisor cannot be reached (wrong URI, daemon down, permissions). */
  | 'connect'
  /** It answered something we cannot read. */
  | 'malformed'
  /** It did not answer in time. */
  | 'timeout';

export class HypervisorError extends Error {
  override name = 'HypervisorError';
  constructor(readonly kind: HypervisorErrorKind, message: string) {
    super(message);
  }
}

export interface Hypervisor {
  /** Reads the host; rejects with a HypervisorError, after which the next read is tried afresh. */
  read(): Promise<HostReading>;
}
