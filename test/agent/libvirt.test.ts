/**
 * The libvirt adapter against the real `virsh` and libvirt's test driver
 * (`test:///<file>`, see test/support/virsh.ts), and this machine's real
 * /proc/stat unless a test says otherwise. No libvirt mock: where virsh must
 * misbehave (garbage, hanging), a script stands in for it, and says so.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../src/clock';
import { systemClock } from '../../src/clock';
import type { CounterNotes } from '../../src/agent/counters';
import type { HostReading, HypervisorErrorKind, VmReading } from '../../src/agent/hypervisor';
import { HypervisorError } from '../../src/agent/hypervisor';
import { DOMINFO_CHUNK_DOMAINS, parseDominfo, parseNodeAndList, VirshHypervisor } from '../../src/agent/libvirt';
import type { VirshHypervisorOptions } from '../../src/agent/libvirt';
import { findVirsh, requireVirsh, testUri, writeNodeXml } from '../support/virsh';
import type { TestDomain, TestNode } from '../support/virsh';

const describeVirsh = requireVirsh() ? describe : describe.skip;

const CORE_MHZ = 2000;
const GAP_MS = 1200;
const TIMEOUT_MS = 5000;
const A = 'aaaaaaaa-1111-4111-8111-000000000001';
const B = 'bbbbbbbb-2222-4222-8222-000000000002';
const C = 'cccccccc-3333-4333-8333-000000000003';
const D = 'dddddddd-4444-4444-8444-000000000004';
const E = 'eeeeeeee-5555-4555-8555-000000000005';

function node(domains: readonly TestDomain[]): TestNode {
  return { cpus: 4, mhz: CORE_MHZ, memoryKiB: 8 * 1024 * 1024, domains };
}

function running(uuid: string, memoryKiB = 1024 * 1024, vcpus = 1): TestDomain {
  return { uuid, memoryKiB, vcpus };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}

function byVm(reading: HostReading): Record<string, VmReading> {
  return Object.fromEntries(reading.vms.map((vm) => [vm.vmId, vm]));
}

async function rejection(promise: Promise<unknown>, kind: HypervisorErrorKind): Promise<HypervisorError> {
  const error: unknown = await promise.then(() => null, (reason: unknown) => reason);
  expect(error).toBeInstanceOf(HypervisorError);
  expect((error as HypervisorError).kind).toBe(kind);
  return error as HypervisorError;
}

/**
 * The test driver's CPU time is the wall clock rounded to 0.1 s by virsh, so
 * each VM's MHz over `intervalS` is one core's, give or take 0.1 s of
 * rounding plus the time between our clock readings and the call (ms here,
 * up to 0.1 s for each reading on a loaded CI machine).
 */
function expectOneBusyCore(cpuMhz: number | null, intervalS: number): void {
  expect(cpuMhz).not.toBeNull();
  const toleranceMhz = CORE_MHZ * 0.3 / intervalS;
  expect(Math.abs(cpuMhz! - CORE_MHZ)).toBeLessThanOrEqual(toleranceMhz);
}

describeVirsh('VirshHypervisor on libvirt\'s test driver', () => {
  let directory = '';
  let nodePath = '';
  let notes: CounterNotes[] = [];
  let standIns = 0;
  let nodes = 0;

  function hypervisor(options: Partial<VirshHypervisorOptions> = {}): VirshHypervisor {
    return new VirshHypervisor({
      uri: testUri(nodePath), virshPath: 'virsh', procStatPath: '/proc/stat', timeoutMs: TIMEOUT_MS, clock: systemClock,
      onNotes: (seen) => { notes.push(seen); },
      ...options,
    });
  }

  /** An executable in the temporary directory: a stand-in for virsh. */
  function script(name: string, body: string): string {
    const path = join(directory, name);
    // Never write through a link left by realVirshAt: that would overwrite the real virsh.
    rmSync(path, { force: true });
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  /** Puts the real virsh where a stand-in (or nothing) was, for the read after an error. */
  function realVirshAt(path: string): void {
    rmSync(path, { force: true });
    symlinkSync(findVirsh()!, path);
  }

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'neat-virsh-'));
  });

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  beforeEach(() => {
    nodes += 1;
    nodePath = join(directory, `node-${nodes}.xml`);
    notes = [];
  });

  test('two readings 1.2 s apart: baselines, then one busy core per VM, RAM and capacity from the XML', async () => {
    writeNodeXml(nodePath, node([running(A, 2 * 1024 * 1024, 2), running(B, 1024 * 1024), running(C, 512 * 1024 + 512, 4)]));
    const host = hypervisor();
    const beforeMs = Date.now();
    const first = await host.read();
    expect(first.capacity).toEqual({ cores: 4, coreMhz: CORE_MHZ, ramMb: 8192 });
    expect(first.timeS * 1000).toBeGreaterThanOrEqual(beforeMs);
    expect(first.timeS * 1000).toBeLessThanOrEqual(Date.now());
    expect(byVm(first)).toEqual({
      [A]: { vmId: A, cpuMhz: null, ramMb: 2048 },
      [B]: { vmId: B, cpuMhz: null, ramMb: 1024 },
      [C]: { vmId: C, cpuMhz: null, ramMb: 512 },
    });
    expect(first.hypervisorCpuMhz).toBeNull();
    expect(notes[0].firstSeen.slice().sort()).toEqual([A, B, C]);

    await delay(GAP_MS);
    const second = await host.read();
    const intervalS = second.timeS - first.timeS;
    expect(intervalS).toBeGreaterThanOrEqual(GAP_MS / 1000);
    expect(second.vms.map((vm) => vm.vmId).sort()).toEqual([A, B, C]);
    for (const vm of second.vms) expectOneBusyCore(vm.cpuMhz, intervalS);
    expect(byVm(second)[A].ramMb).toBe(2048);
    expect(second.capacity).toEqual(first.capacity);
    // This machine's real /proc/stat against the test node's 4 × 2000 MHz.
    expect(second.hypervisorCpuMhz).toEqual(expect.any(Number));
    expect(second.hypervisorCpuMhz).toBeGreaterThanOrEqual(0);
    expect(notes[1]).toMatchObject({ clockWentBack: false, firstSeen: [], restarted: [], removed: [] });
  });

  test('a domain added between reads is null, then measured; one removed disappears; paused and shut-off ones are never reported', async () => {
    writeNodeXml(nodePath, node([running(A), running(B), { ...running(C), state: 'paused' }, { ...running(D), state: 'shutoff' }]));
    const host = hypervisor();
    const first = await host.read();
    expect(first.vms.map((vm) => vm.vmId).sort()).toEqual([A, B]);

    // Each virsh process reads the file afresh.
    writeNodeXml(nodePath, node([running(A), running(E, 3 * 1024 * 1024), { ...running(C), state: 'paused' }, { ...running(D), state: 'shutoff' }]));
    await delay(GAP_MS / 2);
    const second = await host.read();
    expect(Object.keys(byVm(second)).sort()).toEqual([A, E]);
    expect(byVm(second)[A].cpuMhz).toEqual(expect.any(Number));
    expect(byVm(second)[E]).toEqual({ vmId: E, cpuMhz: null, ramMb: 3072 });
    expect(notes[1]).toMatchObject({ firstSeen: [E], removed: [B] });

    await delay(GAP_MS / 2);
    const third = await host.read();
    expect(byVm(third)[E].cpuMhz).toEqual(expect.any(Number));
    expect(byVm(third)[A].cpuMhz).toEqual(expect.any(Number));
    expect(notes[2]).toMatchObject({ firstSeen: [], removed: [] });
  });

  test(`more running domains than one dominfo process takes (${DOMINFO_CHUNK_DOMAINS}): all read, over several processes`, async () => {
    const count = DOMINFO_CHUNK_DOMAINS + 1;
    const uuids = Array.from({ length: count }, (_, index) => `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`);
    writeNodeXml(nodePath, node(uuids.map((uuid) => running(uuid, 256 * 1024))));
    const reading = await hypervisor().read();
    expect(reading.vms.map((vm) => vm.vmId).sort()).toEqual(uuids);
    expect(reading.vms.every((vm) => vm.ramMb === 256 && vm.cpuMhz === null)).toBe(true);
  });

  test('a clock that went back: no values, and the notes say so', async () => {
    writeNodeXml(nodePath, node([running(A)]));
    let nowMs = 2_000_000_000_000;
    const clock: Clock = { nowMs: () => nowMs };
    const host = hypervisor({ clock });
    await host.read();
    nowMs -= 60_000;
    const back = await host.read();
    expect(back.vms).toEqual([{ vmId: A, cpuMhz: null, ramMb: 1024 }]);
    expect(back.hypervisorCpuMhz).toBeNull();
    expect(back.timeS).toBe(nowMs / 1000);
    expect(notes[1].clockWentBack).toBe(true);
  });

  test('a malformed /proc/stat is malformed; the next read measures from the last good baseline, hypervisor = host − VMs exactly', async () => {
    writeNodeXml(nodePath, node([running(A)]));
    const procStatPath = join(directory, 'stat');
    writeFileSync(procStatPath, 'cpu  0 0 0 1000 0 0 0 0 0 0\ncpu0 0 0 0 1000 0 0 0 0 0 0\n');
    const host = hypervisor({ procStatPath });
    await host.read();

    writeFileSync(procStatPath, 'intr 12 34\n');
    const error = await rejection(host.read(), 'malformed');
    expect(error.message).toMatch(/\/proc\/stat: .*"cpu"/);

    await delay(GAP_MS / 2);
    // Half of 2000 ticks busy on 4 × 2000 MHz: the host used 4000 MHz.
    writeFileSync(procStatPath, 'cpu  500 0 500 2000 0 0 0 0 0 0\n');
    const reading = await host.read();
    const vmCpuMhz = reading.vms[0].cpuMhz!;
    expect(vmCpuMhz).toEqual(expect.any(Number));
    expect(notes.at(-1)?.hostCpuMhz).toBe(4000);
    expect(reading.hypervisorCpuMhz).toBe(Math.max(0, 4000 - vmCpuMhz));

    rmSync(procStatPath);
    expect((await rejection(host.read(), 'unavailable')).message).toContain(procStatPath);
  });

  test('virsh not installed is unavailable, saying to install libvirt-clients; once it is there, the read works', async () => {
    writeNodeXml(nodePath, node([running(A)]));
    const virshPath = join(directory, 'missing-bin', 'virsh');
    const host = hypervisor({ virshPath });
    const error = await rejection(host.read(), 'unavailable');
    expect(error.message).toContain(virshPath);
    expect(error.message).toMatch(/install libvirt-clients/);

    mkdirSync(join(directory, 'missing-bin'));
    realVirshAt(virshPath);
    expect((await host.read()).vms.map((vm) => vm.vmId)).toEqual([A]);
  });

  test('a URI libvirt cannot open is connect, naming the URI and what libvirt said; once the node exists, the read works', async () => {
    const nonexistent = await rejection(hypervisor({ uri: 'test:///nonexistent.xml' }).read(), 'connect');
    expect(nonexistent.message).toContain('test:///nonexistent.xml');
    expect(nonexistent.message).toMatch(/failed to connect to the hypervisor/);
    expect(nonexistent.message).toMatch(/nonexistent\.xml/);

    const host = hypervisor();
    await rejection(host.read(), 'connect');
    writeNodeXml(nodePath, node([running(B)]));
    expect((await host.read()).vms.map((vm) => vm.vmId)).toEqual([B]);
  });

  // Garbage cannot be got from a real virsh: these scripts are the one
  // stand-in, each replaced by the real virsh for the read after the error.
  test.each([
    ['text that is not virsh output', 'echo "hello, I am not virsh"', 'malformed', /neither "Key: value" nor a domain UUID: "hello, I am not virsh"/],
    ['nodeinfo without the CPU frequency', 'printf "CPU(s):              4\\nMemory size:         8388608 KiB\\n"', 'malformed', /no "CPU frequency:" line/],
    ['a CPU frequency that is not MHz', 'printf "CPU(s): 4\\nCPU frequency: fast\\nMemory size: 1 KiB\\n"', 'malformed', /"CPU frequency:" should be a whole number of MHz; got "fast"/],
    ['garbage from dominfo only', 'case "$4" in dominfo*) echo "Id: 1"; echo "UUID: not-asked-for"; echo "State: running";; *) exec "$REAL_VIRSH" "$@";; esac', 'malformed', /which was not asked for/],
    ['a CPU time that is not seconds', 'case "$4" in dominfo*) "$REAL_VIRSH" "$@" | sed "s/^CPU time:.*/CPU time: 12 minutes/";; *) exec "$REAL_VIRSH" "$@";; esac', 'malformed', /"CPU time:" should be seconds/],
    ['output without end', 'exec yes "CPU(s): 4"', 'malformed', /printed more than 1048576 bytes and was killed/],
    ['an unknown failure', 'echo "error: internal error: something broke" >&2; exit 1', 'connect', /exited with status 1: error: internal error: something broke/],
  ] as const)('a stand-in for virsh printing %s', async (_, body, kind, message) => {
    writeNodeXml(nodePath, node([running(A)]));
    standIns += 1;
    const virshPath = script(`virsh-standin-${standIns}`, `REAL_VIRSH=${findVirsh()!}\n${body}`);
    const host = hypervisor({ virshPath });
    const error = await rejection(host.read(), kind);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`${virshPath} -r -c ${testUri(nodePath)}`);

    realVirshAt(virshPath);
    expect((await host.read()).vms.map((vm) => vm.vmId)).toEqual([A]);
  });

  // The race cannot be timed with a real virsh, so a stand-in adds a domain
  // that does not exist to the real list; the dominfo error is the real virsh's.
  test.each([
    ['last: virsh exits with its failure', `"$REAL_VIRSH" "$@"; echo ${D}`],
    ['in the middle: virsh exits 0', `echo ${D}; "$REAL_VIRSH" "$@"`],
  ])('a domain that vanished between list and dominfo is left out, when %s', async (_, listing) => {
    writeNodeXml(nodePath, node([running(A), running(B)]));
    standIns += 1;
    const virshPath = script(`virsh-standin-${standIns}`,
      `REAL_VIRSH=${findVirsh()!}\ncase "$4" in nodeinfo*) ${listing};; *) exec "$REAL_VIRSH" "$@";; esac`);
    const reading = await hypervisor({ virshPath }).read();
    expect(reading.vms.map((vm) => vm.vmId).sort()).toEqual([A, B]);
  });

  test('a virsh that hangs is killed at the timeout; the next read works', async () => {
    writeNodeXml(nodePath, node([running(A)]));
    // A stand-in again: a real virsh does not hang on the test driver.
    const virshPath = script('virsh-hangs', 'exec sleep 30');
    const timeoutMs = 1000;
    const host = hypervisor({ virshPath, timeoutMs });
    const startMs = Date.now();
    const error = await rejection(host.read(), 'timeout');
    expect(Date.now() - startMs).toBeLessThan(timeoutMs + 2000);
    expect(error.message).toMatch(/"nodeinfo; list --uuid --state-running" did not finish within 1000 ms and was killed/);

    realVirshAt(virshPath);
    expect((await host.read()).vms.map((vm) => vm.vmId)).toEqual([A]);
  });

  test('reads must not overlap: the counter state would be advanced twice from one baseline', async () => {
    writeNodeXml(nodePath, node([running(A)]));
    const host = hypervisor();
    const first = host.read();
    await expect(host.read()).rejects.toThrow(/must not overlap/);
    await first;
  });
});

/** Outputs the test driver cannot produce, as virsh 9.0 prints them for a real hypervisor. */
describe('parsing what the test driver never prints', () => {
  const described = 'virsh -r -c qemu:///system "dominfo …"';
  const block = (uuid: string, lines: readonly string[]): string => ['Id:             7', 'Name:           instance-7', `UUID:           ${uuid}`, ...lines, ''].join('\n');

  test('a CPU time of 0 is left out by virsh; "no limit" memory is unknown RAM; Messages continue on indented lines', () => {
    const stdout = block(A, [
      'OS Type:        hvm', 'State:          running', 'CPU(s):         2', 'Max memory:     no limit', 'Used memory:    1048576 KiB',
      'Messages:       tainted: custom monitor control commands issued', '                tainted: use of deprecated configuration settings',
      'Security label: system_u:system_r:svirt_t:s0:c1,c2 (enforcing)',
    ]) + block(B, ['State:          running', 'CPU time:       12.3s', 'Max memory:     4194304 KiB']);
    expect(parseDominfo(stdout, new Set([A, B]), false, described)).toEqual([
      { vmId: A, cpuTimeNs: 0, ramMb: null },
      { vmId: B, cpuTimeNs: 12.3e9, ramMb: 4096 },
    ]);
  });

  test('a domain no longer running is left out; a block cut short is left out only when virsh said a domain went away', () => {
    const stdout = block(A, ['State:          paused', 'Max memory:     1024 KiB']) + block(B, []) + block(C, ['State: running', 'Max memory: 2048 KiB']);
    expect(parseDominfo(stdout, new Set([A, B, C]), true, described)).toEqual([{ vmId: C, cpuTimeNs: 0, ramMb: 2 }]);
    expect(() => parseDominfo(stdout, new Set([A, B, C]), false, described)).toThrow(/a domain's block has no "State:" line/);
  });

  test('a domain described twice, or a line that is no field, is malformed', () => {
    const twice = block(A, ['State: running', 'Max memory: 1024 KiB']).repeat(2);
    expect(() => parseDominfo(twice, new Set([A]), false, described)).toThrow(/described twice/);
    expect(() => parseDominfo('Id: 1\nsomething odd\n', new Set([A]), false, described)).toThrow(/not "Key: value": "something odd"/);
  });

  test('nodeinfo of a host that does not know its CPU frequency is malformed, since no MHz can be computed', () => {
    const stdout = 'CPU model:           aarch64\nCPU(s):              8\nCPU frequency:       0 MHz\nMemory size:         16777216 KiB\n\n';
    expect(() => parseNodeAndList(stdout, described)).toThrow(/8 CPUs at 0 MHz/);
  });

  test('a UUID listed twice is malformed', () => {
    const stdout = `CPU(s): 1\nCPU frequency: 1000 MHz\nMemory size: 1024 KiB\n\n${A}\n${A}\n`;
    expect(() => parseNodeAndList(stdout, described)).toThrow(/listed twice/);
  });

  test('errors from the parsers are HypervisorErrors of kind malformed, naming the command', () => {
    try {
      parseNodeAndList('CPU(s): 1\n', described);
      throw new Error('expected a throw');
    } catch (error) {
      expect(error).toBeInstanceOf(HypervisorError);
      expect((error as HypervisorError).kind).toBe('malformed');
      expect((error as HypervisorError).message).toMatch(/^virsh -r -c qemu:\/\/\/system "dominfo …": no "CPU frequency:" line/);
    }
  });
});

describe('requireVirsh', () => {
  const saved = { PATH: process.env.PATH, CI: process.env.CI };

  afterEach(() => {
    process.env.PATH = saved.PATH;
    if (saved.CI === undefined) delete process.env.CI;
    else process.env.CI = saved.CI;
  });

  test('without virsh: false and a loud skip locally, a throw on CI, so that CI never passes with the tests unrun', () => {
    process.env.PATH = '/nonexistent-directory';
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      delete process.env.CI;
      expect(requireVirsh()).toBe(false);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('skipped: virsh is missing (apt-get install libvirt-clients)'));
      process.env.CI = 'true';
      expect(() => requireVirsh()).toThrow(/virsh is missing \(apt-get install libvirt-clients\): on CI/);
    } finally {
      warn.mockRestore();
    }
  });
});
