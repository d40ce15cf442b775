import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPlanetLabTrace } from '../../traces/planetlab';
import { TraceError, utilizationAt } from '../../traces/trace';

const ROOT = join(__dirname, '..', '..', '..');
const DAY = join(ROOT, '..', 'shared', 'traces', 'planetlab', '20110303');
const FIRST_FILE = '146-179_surfsnel_dsl_internl_net_colostate_557';
const LAST_FILE = 'vn5_cse_wustl_edu_uw_oneswarm';

const dataTest = existsSync(DAY) ? test : test.skip;
if (!existsSync(DAY)) console.log(`PlanetLab tests skipped: ${DAY} is absent (shared/traces/planetlab beside the project)`);

describe('readPlanetLabTrace on day 20110303', () => {
  // Read once: the day is 1052 files.
  const trace = existsSync(DAY) ? readPlanetLabTrace(DAY) : null;

  dataTest('one VM per file, in name order, named after the file', () => {
    expect(trace!.name).toBe('20110303');
    expect(trace!.format).toBe('planetlab');
    expect(trace!.stepS).toBe(300);
    expect(trace!.vms).toHaveLength(1052);
    const ids = trace!.vms.map((vm) => vm.id);
    expect(ids).toEqual(readdirSync(DAY).sort());
    expect(ids[0]).toBe(FIRST_FILE);
    expect(ids[1051]).toBe(LAST_FILE);
    expect(trace!.vms.every((vm) => vm.ramMb === null && vm.utilization.length === 289)).toBe(true);
  });

  dataTest('values are the file\'s percentages / 100, with the 288th repeated as the 289th', () => {
    const vm = trace!.vms[0];
    const lines = readFileSync(join(DAY, FIRST_FILE), 'ascii').trimEnd().split('\n');
    expect(Array.from(vm.utilization.subarray(0, 288))).toEqual(lines.map((line) => Number(line) / 100));
    expect(vm.utilization[0]).toBe(0.24);
    expect(vm.utilization[1]).toBe(0.34);
    expect(vm.utilization[287]).toBe(0.51);
    expect(vm.utilization[288]).toBe(0.51);
  });

  dataTest('interpolates as CloudSim does at t = 150 s and in the last interval', () => {
    const vm = trace!.vms[0];
    expect(utilizationAt(vm, 150, 300)).toBe(0.24 + ((0.34 - 0.24) / 300) * 150);
    expect(utilizationAt(vm, 150, 300)).toBeCloseTo(0.29, 15);
    expect(utilizationAt(vm, 86250, 300)).toBe(0.51);
    expect(utilizationAt(vm, 86400, 300)).toBe(0.51);
    expect(() => utilizationAt(vm, 86400.5, 300)).toThrow(/past the trace's last point/);
  });

  dataTest('the digest pins the day\'s content', () => {
    expect(trace!.digest).toBe('c8985956c1ddeecf087cbf374648d84203ef64e84cb33b6af394394f7f93a7f9');
  });
});

describe('readPlanetLabTrace on made-up directories', () => {
  let base: string;
  let count = 0;
  const lines = (n: number, value = '7'): string => Array.from({ length: n }, () => value).join('\n') + '\n';

  /** A fresh directory holding the given files. */
  function day(files: Readonly<Record<string, string | Buffer>>): string {
    const directory = join(base, `day${count++}`);
    mkdirSync(directory);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(directory, name), content);
    return directory;
  }

  function withLine(line: number, text: string): string {
    const values = lines(288).trimEnd().split('\n');
    values[line - 1] = text;
    return values.join('\n') + '\n';
  }

  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'neat-planetlab-'));
  });
  afterAll(() => {
    rmSync(base, { recursive: true, force: true });
  });

  test('files sort by UTF-16 code unit, hidden files are skipped, and the digest is canonical', () => {
    const files = { a: lines(288, '1'), B: lines(288, '2'), _x: lines(288, '3'), Z: lines(288, '100') };
    const directory = day({ ...files, '.DS_Store': 'not a trace' });
    const trace = readPlanetLabTrace(directory);
    expect(trace.vms.map((vm) => vm.id)).toEqual(['B', 'Z', '_x', 'a']);
    expect(trace.vms.map((vm) => vm.utilization[288])).toEqual([0.02, 1, 0.03, 0.01]);
    const hash = createHash('sha256');
    for (const name of ['B', 'Z', '_x', 'a']) {
      const content = files[name as keyof typeof files];
      hash.update(`${name}\n${Buffer.byteLength(content)}\n${content}`);
    }
    expect(trace.digest).toBe(hash.digest('hex'));
  });

  test('CRLF and a missing final newline read the same values', () => {
    const values = Array.from({ length: 288 }, (_, i) => String(i % 101));
    const lf = readPlanetLabTrace(day({ vm: values.join('\n') + '\n' }));
    const crlf = readPlanetLabTrace(day({ vm: values.join('\r\n') + '\r\n' }));
    const bare = readPlanetLabTrace(day({ vm: values.join('\n') }));
    expect(crlf.vms[0].utilization).toEqual(lf.vms[0].utilization);
    expect(bare.vms[0].utilization).toEqual(lf.vms[0].utilization);
    expect(lf.vms[0].utilization[100]).toBe(1);
    expect(lf.vms[0].utilization[288]).toBe(lf.vms[0].utilization[287]);
  });

  const malformed: readonly [string, string | Buffer, string][] = [
    ['a non-numeric value', withLine(5, 'abc'), ':5: non-numeric value "abc"'],
    ['a decimal value', withLine(6, '1.5'), ':6: non-numeric value "1.5"'],
    ['a value with spaces', withLine(7, ' 12'), ':7: non-numeric value " 12"'],
    ['a negative value', withLine(9, '-3'), ':9: negative value "-3"'],
    ['a value above 100', withLine(288, '101'), ':288: value "101" is above 100'],
    ['a very long value', withLine(2, '9'.repeat(400)), ':2: value "9999'],
    ['an empty line', withLine(10, ''), ':10: empty line'],
    ['a stray carriage return', withLine(3, '5\r5'), ':3: non-numeric value "5\\r5"'],
    ['too few lines', lines(287), ':288: expected 288 lines, found 287'],
    ['too many lines', lines(300), ':289: expected 288 lines, found 300'],
    ['an empty file', '', ':1: expected 288 lines, found 0'],
    ['a blank last line', lines(288) + '\n', ':289: expected 288 lines, found 289'],
    ['a huge file', Buffer.alloc(70_000, 0x31), ': larger than 65536 bytes'],
  ];
  test.each(malformed)('%s is an error naming the file and line', (_, content, message) => {
    const directory = day({ good: lines(288), vm: content });
    expect(() => readPlanetLabTrace(directory)).toThrow(TraceError);
    expect(() => readPlanetLabTrace(directory)).toThrow(`${join(directory, 'vm')}${message}`);
  });

  test('an empty directory, or one with only hidden files, is an error', () => {
    const empty = day({});
    expect(() => readPlanetLabTrace(empty)).toThrow(`${empty}: no trace files`);
    const hidden = day({ '.hidden': lines(288) });
    expect(() => readPlanetLabTrace(hidden)).toThrow(`${hidden}: no trace files`);
  });

  test('a missing directory, or a file in its place, cannot be read', () => {
    const missing = join(base, 'no-such-day');
    expect(() => readPlanetLabTrace(missing)).toThrow(`${missing}: cannot read the directory (ENOENT)`);
    const file = join(day({ vm: lines(288) }), 'vm');
    expect(() => readPlanetLabTrace(file)).toThrow(`${file}: cannot read the directory (ENOTDIR)`);
  });

  test('a sub-directory or a link to one is refused', () => {
    const directory = day({ vm: lines(288) });
    mkdirSync(join(directory, 'nested'));
    expect(() => readPlanetLabTrace(directory)).toThrow(`${join(directory, 'nested')}: a sub-directory`);
    const linked = day({ vm: lines(288) });
    symlinkSync(directory, join(linked, 'link'));
    expect(() => readPlanetLabTrace(linked)).toThrow(`${join(linked, 'link')}: not a regular file`);
  });

  test('a link to a file is followed; a broken link cannot be read', () => {
    const directory = day({ vm: lines(288, '42') });
    symlinkSync(join(directory, 'vm'), join(directory, 'alias'));
    expect(readPlanetLabTrace(directory).vms.map((vm) => [vm.id, vm.utilization[0]])).toEqual([['alias', 0.42], ['vm', 0.42]]);
    const broken = day({ vm: lines(288) });
    symlinkSync(join(broken, 'gone'), join(broken, 'dangling'));
    expect(() => readPlanetLabTrace(broken)).toThrow(`${join(broken, 'dangling')}: cannot follow the symbolic link (ENOENT)`);
  });

  const asRoot = process.getuid?.() === 0;
  (asRoot ? test.skip : test)('an unreadable file is an error (skipped as root, who can read anything)', () => {
    const directory = day({ vm: lines(288) });
    chmodSync(join(directory, 'vm'), 0o000);
    expect(() => readPlanetLabTrace(directory)).toThrow(`${join(directory, 'vm')}: cannot read the file (EACCES)`);
  });
});
