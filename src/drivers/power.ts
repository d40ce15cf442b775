/** The production `Power`: suspend over SSH, wake by Wake-on-LAN, both from the configuration. */
import type { ManagerConfig } from '../config';
import type { Power } from '../managers/ports';
import { SshSuspender } from './ssh';
import { WakeOnLan } from './wol';

export type PowerConfig = Pick<ManagerConfig,
  | 'computeUser' | 'sleepCommand' | 'sshKeyFile' | 'sshKnownHostsFile' | 'sshPort' | 'sshStrictHostKeyChecking'
  | 'sshConnectTimeoutS' | 'sshCommandTimeoutS'
  | 'hostMacs' | 'wolBroadcastAddress' | 'wolPort' | 'wolProgram' | 'etherWakeInterface'>;

export interface ProductionPowerOptions {
  /** Where to connect over SSH for a host name; the name itself by default. */
  readonly addressOf?: (host: string) => string;
  /** How long `wol_program` may run. */
  readonly wolProgramTimeoutMs?: number;
}

/** `ether-wake` returns as soon as the frame is sent; ten seconds is a hung program. */
const WOL_PROGRAM_TIMEOUT_MS = 10_000;
/** A datagram is handed to the kernel at once; only a broken network stack takes longer. */
const WOL_SEND_TIMEOUT_MS = 5_000;

export function productionPower(config: PowerConfig, options: ProductionPowerOptions = {}): Power {
  const ssh = new SshSuspender({
    user: config.computeUser,
    privateKeyFile: config.sshKeyFile,
    knownHostsFile: config.sshKnownHostsFile,
    strictHostKeyChecking: config.sshStrictHostKeyChecking,
    port: config.sshPort,
    connectTimeoutMs: config.sshConnectTimeoutS * 1000,
    commandTimeoutMs: config.sshCommandTimeoutS * 1000,
    sleepCommand: config.sleepCommand,
    addressOf: options.addressOf ?? ((host) => host),
  });
  const wol = new WakeOnLan({
    macs: config.hostMacs,
    broadcastAddress: config.wolBroadcastAddress,
    port: config.wolPort,
    program: config.wolProgram,
    interfaceName: config.etherWakeInterface,
    programTimeoutMs: options.wolProgramTimeoutMs ?? WOL_PROGRAM_TIMEOUT_MS,
    sendTimeoutMs: WOL_SEND_TIMEOUT_MS,
  });
  return { suspend: (host) => ssh.suspend(host), wake: (host) => wol.wake(host) };
}
