/**
 * libvirt's test driver for tests that run the real `virsh`: a node described
 * by an XML file (`test:///path/node.xml`), which virsh reads afresh at every
 * connection, so a test rewrites the file to change the host between reads.
 * Needs the `libvirt-clients` package (virsh; the test driver is built in).
 *
 * What the test driver does, as found with libvirt 9.0:
 * - CPU(s) is nodes × sockets × cores × threads; we write one node, one
 *   socket, `cpus` cores, one thread.
 * - A domain's CPU time (`dominfo`) is the wall clock, whatever its state or
 *   vCPUs: every running domain reads as one core kept busy.
 * - A domain is running unless its XML says otherwise in the test driver's
 *   own namespace, `http://libvirt.org/schemas/domain/test/1.0`:
 *   `<test:runstate>N</test:runstate>`, N a virDomainState (1 running,
 *   3 paused, 5 shut off).
 * - A domain needs `<os><type>hvm</type></os>`, or the connection fails
 *   ("an os <type> must be specified").
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, renameSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { prerequisite } from './prerequisite';

export type TestDomainState = 'running' | 'paused' | 'shutoff';

export interface TestDomain {
  readonly uuid: string;
  /** Defaults to `vm-<uuid>`: the test driver refuses two domains of one name. */
  readonly name?: string;
  readonly memoryKiB: number;
  readonly vcpus: number;
  /** Defaults to running. */
  readonly state?: TestDomainState;
}

export interface TestNode {
  readonly cpus: number;
  /** One core's clock. */
  readonly mhz: number;
  readonly memoryKiB: number;
  readonly domains: readonly TestDomain[];
}

/** virDomainState, as the test driver's `<test:runstate>` takes it. */
const RUNSTATE: Readonly<Record<TestDomainState, number>> = { running: 1, paused: 3, shutoff: 5 };
const TEST_NAMESPACE = 'http://libvirt.org/schemas/domain/test/1.0';
const VERSION_TIMEOUT_MS = 10_000;
/** Bounds the PATH walk: a PATH longer than this is not one to trust anyway. */
const PATH_ENTRIES_LIMIT = 256;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function wholePositive(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${what} must be a positive whole number; got ${value}`);
  return value;
}

function domainXml(domain: TestDomain): string {
  const name = domain.name ?? `vm-${domain.uuid}`;
  return [
    `  <domain type="test" xmlns:test="${TEST_NAMESPACE}">`,
    `    <name>${escapeXml(name)}</name>`,
    `    <uuid>${escapeXml(domain.uuid)}</uuid>`,
    `    <memory>${wholePositive(domain.memoryKiB, 'memoryKiB')}</memory>`,
    `    <vcpu>${wholePositive(domain.vcpus, 'vcpus')}</vcpu>`,
    '    <os><type>hvm</type></os>',
    `    <test:runstate>${RUNSTATE[domain.state ?? 'running']}</test:runstate>`,
    '  </domain>',
  ].join('\n');
}

/** The node as XML for libvirt's test driver. */
export function nodeXml(node: TestNode): string {
  return [
    '<node>',
    '  <cpu>',
    `    <mhz>${wholePositive(node.mhz, 'mhz')}</mhz>`,
    '    <nodes>1</nodes>',
    '    <sockets>1</sockets>',
    `    <cores>${wholePositive(node.cpus, 'cpus')}</cores>`,
    '    <threads>1</threads>',
    '  </cpu>',
    `  <memory>${wholePositive(node.memoryKiB, 'memoryKiB')}</memory>`,
    ...node.domains.map(domainXml),
    '</node>',
    '',
  ].join('\n');
}

/**
 * Writes the node's XML at `path`. Through a rename, so that a virsh reading
 * the file at that moment sees the old node or the new, never half of one.
 */
export function writeNodeXml(path: string, node: TestNode): void {
  const staging = `${path}.writing`;
  writeFileSync(staging, nodeXml(node));
  renameSync(staging, path);
}

/** The test driver's URI for a node file; `path` is absolute, so the URI reads `test:///…`. */
export function testUri(path: string): string {
  return `test://${path}`;
}

/** The absolute path of `virsh` in PATH, or null: to link to, or to stand a fake in for. */
export function findVirsh(): string | null {
  const directories = (process.env.PATH ?? '').split(delimiter).filter((directory) => directory !== '');
  for (const directory of directories.slice(0, PATH_ENTRIES_LIMIT)) {
    const candidate = join(directory, 'virsh');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

/** Whether virsh can be run: when it cannot, a loud skip locally and a failure on CI (`prerequisite`). */
export function requireVirsh(): boolean {
  const virsh = findVirsh();
  if (virsh !== null) execFileSync(virsh, ['--version'], { timeout: VERSION_TIMEOUT_MS, stdio: 'ignore' });
  return prerequisite('virsh', virsh !== null, 'apt-get install libvirt-clients');
}
