/**
 * The data-centre lines of a CSV trace (traces/README.md): `#@host` and `#@vm`
 * comment lines that name the hosts a trace was recorded on, each VM's CPU
 * capacity and the host it started on. They are comments to any other CSV
 * reader, so a trace with them is still a plain trace.
 */
import { POWER_MODELS } from '../src/engine/power';
import { TraceError } from './trace';
import type { TraceDataCentre, TraceHost, TraceVm } from './trace';

export const DIRECTIVE_PREFIX = '#@';
const HOST_KEYS = ['name', 'cores', 'core_mhz', 'ram_mb', 'power'] as const;
const VM_KEYS = ['id', 'cpu_mhz', 'host'] as const;
/** A bound on the lines of each kind, as the CSV bounds its rows. */
const MAX_HOSTS = 100_000;
const MAX_VMS = 1_000_000;
/** Names and ids are written bare, one `key=value` per space-separated field. */
const BARE = /^[^\s=,"#][^\s=,"]*$/;

interface Located<T> {
  readonly value: T;
  readonly line: number;
}

/** The directive lines of a file, as read, before they are checked against its samples. */
export class DataCentreLines {
  private readonly hosts: Located<TraceHost>[] = [];
  private readonly vms = new Map<string, Located<{ cpuMhz: number; host: string }>>();

  constructor(private readonly path: string) {}

  get empty(): boolean {
    return this.hosts.length === 0 && this.vms.size === 0;
  }

  private fail(line: number, problem: string): never {
    throw new TraceError(`${this.path}:${line}: ${problem}`);
  }

  /** One `#@…` line (trimmed). */
  add(text: string, line: number): void {
    const [kind, ...fields] = text.slice(DIRECTIVE_PREFIX.length).split(/\s+/);
    if (kind === 'host') this.addHost(this.fields(fields, HOST_KEYS, line), line);
    else if (kind === 'vm') this.addVm(this.fields(fields, VM_KEYS, line), line);
    else this.fail(line, `unknown data-centre line "${DIRECTIVE_PREFIX}${kind}"; known: ${DIRECTIVE_PREFIX}host, ${DIRECTIVE_PREFIX}vm`);
  }

  private fields<K extends string>(fields: readonly string[], keys: readonly K[], line: number): Record<K, string> {
    const values = new Map<string, string>();
    for (const field of fields) {
      const equals = field.indexOf('=');
      const key = equals < 0 ? field : field.slice(0, equals);
      if (equals < 0 || !(keys as readonly string[]).includes(key)) this.fail(line, `unexpected field ${JSON.stringify(field)}; expected ${keys.map((k) => `${k}=…`).join(' ')}`);
      if (values.has(key)) this.fail(line, `${key} given twice`);
      values.set(key, field.slice(equals + 1));
    }
    const missing = keys.filter((key) => !values.has(key));
    if (missing.length > 0) this.fail(line, `missing ${missing.map((k) => `${k}=…`).join(' ')}`);
    return Object.fromEntries(values) as Record<K, string>;
  }

  private positive(text: string, key: string, line: number, integer: boolean): number {
    const value = Number(text);
    if (text === '' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      this.fail(line, `${key} ${JSON.stringify(text)} is not a positive ${integer ? 'integer' : 'number'}`);
    }
    return value;
  }

  private name(text: string, key: string, line: number): string {
    if (!BARE.test(text)) this.fail(line, `${key} ${JSON.stringify(text)} must be non-empty, without spaces, '=', ',' or '"'`);
    return text;
  }

  private addHost(fields: Record<(typeof HOST_KEYS)[number], string>, line: number): void {
    if (this.hosts.length >= MAX_HOSTS) this.fail(line, `more than ${MAX_HOSTS} hosts`);
    const name = this.name(fields.name, 'name', line);
    const previous = this.hosts.find((host) => host.value.name === name);
    if (previous !== undefined) this.fail(line, `host ${JSON.stringify(name)} is declared twice (first on line ${previous.line})`);
    if (!Object.hasOwn(POWER_MODELS, fields.power)) {
      this.fail(line, `power ${JSON.stringify(fields.power)} is not a known power model; known: ${Object.keys(POWER_MODELS).join(', ')}`);
    }
    this.hosts.push({
      line,
      value: {
        name, cores: this.positive(fields.cores, 'cores', line, true), coreMhz: this.positive(fields.core_mhz, 'core_mhz', line, false),
        ramMb: this.positive(fields.ram_mb, 'ram_mb', line, false), power: fields.power,
      },
    });
  }

  private addVm(fields: Record<(typeof VM_KEYS)[number], string>, line: number): void {
    if (this.vms.size >= MAX_VMS) this.fail(line, `more than ${MAX_VMS} VMs`);
    const id = this.name(fields.id, 'id', line);
    const previous = this.vms.get(id);
    if (previous !== undefined) this.fail(line, `VM ${JSON.stringify(id)} is declared twice (first on line ${previous.line})`);
    this.vms.set(id, { line, value: { cpuMhz: this.positive(fields.cpu_mhz, 'cpu_mhz', line, false), host: this.name(fields.host, 'host', line) } });
  }

  /**
   * The data centre of a trace whose samples are `vms`: every VM of the samples
   * declared and placed on a declared host, with a known RAM that fits there;
   * no declared VM without samples.
   */
  resolve(vms: readonly TraceVm[], vmLines: readonly number[]): TraceDataCentre {
    if (this.hosts.length === 0) this.fail(this.vms.values().next().value?.line ?? 1, `${DIRECTIVE_PREFIX}vm lines without any ${DIRECTIVE_PREFIX}host line`);
    const hostsByName = new Map(this.hosts.map((host) => [host.value.name, host.value]));
    const freeRamMb = new Map(this.hosts.map((host) => [host.value.name, host.value.ramMb]));
    const placed = vms.map((vm, index) => {
      const declared = this.vms.get(vm.id);
      if (declared === undefined) this.fail(vmLines[index], `VM ${JSON.stringify(vm.id)} (first seen on this line) has no ${DIRECTIVE_PREFIX}vm line`);
      const host = hostsByName.get(declared.value.host);
      if (host === undefined) this.fail(declared.line, `host ${JSON.stringify(declared.value.host)} has no ${DIRECTIVE_PREFIX}host line`);
      if (vm.ramMb === null) this.fail(declared.line, `VM ${JSON.stringify(vm.id)} has no ram_mb in its samples; a data centre places VMs by RAM`);
      const freeMb = (freeRamMb.get(host.name) ?? 0) - vm.ramMb;
      if (freeMb < 0) this.fail(declared.line, `VM ${JSON.stringify(vm.id)} (${vm.ramMb} MB) does not fit the RAM left on host ${JSON.stringify(host.name)}`);
      freeRamMb.set(host.name, freeMb);
      return declared.value;
    });
    const sampled = new Set(vms.map((vm) => vm.id));
    for (const [id, declared] of this.vms) {
      if (!sampled.has(id)) this.fail(declared.line, `VM ${JSON.stringify(id)} has a ${DIRECTIVE_PREFIX}vm line but no samples`);
    }
    return { hosts: this.hosts.map((host) => host.value), vms: placed };
  }
}

/** The `#@host` and `#@vm` lines of a data centre, as `DataCentreLines` reads them. */
export function dataCentreLines(dataCentre: TraceDataCentre, vms: readonly TraceVm[]): string[] {
  const bare = (text: string, what: string): string => {
    if (!BARE.test(text)) throw new TraceError(`${what} ${JSON.stringify(text)} cannot be written on a ${DIRECTIVE_PREFIX} line`);
    return text;
  };
  return [
    ...dataCentre.hosts.map((host) => `${DIRECTIVE_PREFIX}host name=${bare(host.name, 'host name')} cores=${host.cores} core_mhz=${host.coreMhz} ram_mb=${host.ramMb} power=${bare(host.power, 'power model')}`),
    ...dataCentre.vms.map((vm, index) => `${DIRECTIVE_PREFIX}vm id=${bare(vms[index].id, 'VM id')} cpu_mhz=${vm.cpuMhz} host=${bare(vm.host, 'host name')}`),
  ];
}
