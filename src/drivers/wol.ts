/**
 * `Power.wake` by Wake-on-LAN: the magic packet to `wol_broadcast_address:
 * wol_port` over UDP, or, when `wol_program` is set (`ether-wake` sends raw
 * Ethernet frames, which needs root), that program. Resolving means the
 * packet left this machine; whether the host woke is the cloud's to say.
 */
import { createSocket } from 'node:dgram';
import { assert } from '../engine/assert';
import { PowerError } from '../managers/ports';
import { OutputTail } from './outputTail';
import { runProgram } from './program';
import type { ProgramRun } from './program';

export interface WakeOnLanOptions {
  /** Host (as spelled in compute_hosts) → `aa:bb:cc:dd:ee:ff`: config.hostMacs. */
  readonly macs: Readonly<Record<string, string>>;
  readonly broadcastAddress: string;
  readonly port: number;
  /** Null: send the packet ourselves. Otherwise run `<program> -i <interfaceName> <mac>`. */
  readonly program: string | null;
  readonly interfaceName: string;
  readonly programTimeoutMs: number;
  /** Binding the socket and handing the datagram to the kernel. */
  readonly sendTimeoutMs: number;
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const MAC_BYTES = 6;
const MAC_REPEATS = 16;
export const MAGIC_PACKET_BYTES = MAC_BYTES + MAC_BYTES * MAC_REPEATS;
/** What the program may print before it is killed; its stderr is kept to OutputTail's limit. */
const PROGRAM_OUTPUT_LIMIT_BYTES = 64 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Six 0xFF bytes, then the MAC sixteen times. */
export function magicPacket(mac: string): Buffer {
  assert(MAC.test(mac), () => `a MAC is lower-case aa:bb:cc:dd:ee:ff; got ${JSON.stringify(mac)}`);
  const address = Buffer.from(mac.replaceAll(':', ''), 'hex');
  const packet = Buffer.concat([Buffer.alloc(MAC_BYTES, 0xff), ...Array.from({ length: MAC_REPEATS }, () => address)]);
  assert(packet.length === MAGIC_PACKET_BYTES, 'a magic packet is 102 bytes');
  return packet;
}

function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') {
    return error.message;
  }
  return String(error);
}

/**
 * SO_BROADCAST is set for every address: it only permits sending to a
 * broadcast address, and whether an address such as 10.1.3.255 is a directed
 * broadcast depends on a netmask this machine may not know.
 */
/** Null once the kernel took the datagram; otherwise why it did not. */
function sendDatagram(packet: Buffer, address: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    let settled = false;
    const settle = (cause: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(cause);
    };
    const timer = setTimeout(() => { settle(`not sent within ${timeoutMs} ms`); }, timeoutMs);
    socket.on('error', (error) => { settle(error.message); });
    socket.bind(0, () => {
      try {
        socket.setBroadcast(true);
        socket.send(packet, port, address, (error) => { settle(error === null ? null : error.message); });
      } catch (error) {
        settle(messageOf(error));
      }
    });
  });
}

/** Why a run of `wol_program` failed, in words, or null when it did not. */
function programFailure(run: ProgramRun, timeoutMs: number): string | null {
  const failure = run.failure;
  if (failure === null) return null;
  switch (failure.kind) {
    case 'timeout': return `it did not finish within ${timeoutMs} ms`;
    case 'too-much-output': return `it printed more than ${PROGRAM_OUTPUT_LIMIT_BYTES} bytes`;
    case 'cannot-run': return failure.message;
    case 'exited': return failure.exitCode === null ? `it was killed by ${failure.signal ?? 'a signal'}` : `it exited with status ${failure.exitCode}`;
  }
}

export class WakeOnLan {
  /** Nova may spell a host in another case than compute_hosts does. */
  private readonly macByLowerCaseHost: ReadonlyMap<string, string>;

  constructor(private readonly options: WakeOnLanOptions) {
    assert(Number.isInteger(options.port) && options.port >= 1 && options.port <= 65535, () => `bad Wake-on-LAN port ${options.port}`);
    for (const timeoutMs of [options.programTimeoutMs, options.sendTimeoutMs]) {
      assert(timeoutMs > 0 && timeoutMs <= MAX_TIMER_MS, () => `a Wake-on-LAN timeout must be in (0, ${MAX_TIMER_MS}] ms; got ${timeoutMs}`);
    }
    assert(options.program === null || options.interfaceName !== '', 'wol_program needs an interface');
    this.macByLowerCaseHost = new Map(Object.entries(options.macs).map(([host, mac]) => [host.toLowerCase(), mac]));
    for (const mac of this.macByLowerCaseHost.values()) assert(MAC.test(mac), () => `bad MAC ${JSON.stringify(mac)}`);
  }

  async wake(host: string): Promise<void> {
    const mac = this.macByLowerCaseHost.get(host.toLowerCase());
    if (mac === undefined) {
      throw new PowerError(`cannot wake host ${host}: it has no MAC address in the [host_macs] section of the configuration ` +
        `(add a line "${host} = aa:bb:cc:dd:ee:ff")`);
    }
    const { program, interfaceName, programTimeoutMs, broadcastAddress, port, sendTimeoutMs } = this.options;
    if (program !== null) {
      const run = await runProgram(program, ['-i', interfaceName, mac], { timeoutMs: programTimeoutMs, maxOutputBytes: PROGRAM_OUTPUT_LIMIT_BYTES });
      const cause = programFailure(run, programTimeoutMs);
      if (cause !== null) {
        const stderr = new OutputTail();
        stderr.push(run.stderr);
        throw new PowerError(`cannot wake host ${host} (${mac}) with ${program} -i ${interfaceName}: ${cause}`, stderr.text());
      }
      return;
    }
    const failure = await sendDatagram(magicPacket(mac), broadcastAddress, port, sendTimeoutMs);
    if (failure !== null) {
      throw new PowerError(`cannot wake host ${host}: the magic packet for ${mac} to ${broadcastAddress}:${port} was not sent: ${failure}`);
    }
  }
}
