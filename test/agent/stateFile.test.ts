import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentMemory } from '../../src/agent/loop';
import { EMPTY_MEMORY } from '../../src/agent/loop';
import { loadState, saveState, statePath } from '../../src/agent/stateFile';

const MEMORY: AgentMemory = {
  vmsCpuMhz: { a: [100, 200], b: [] }, vmsRamMb: { a: 1024 }, hypervisorCpuMhz: [5, 6], hostCpuMhz: 8000,
  localManager: { underload: {}, overload: { overloadSteps: 1, totalSteps: 4 }, selection: {} },
};
const NOW_MS = 1_800_000_000_000;

function directory(): string {
  return mkdtempSync(join(tmpdir(), 'neat-agent-state-'));
}

describe("the agent's state file", () => {
  test('what is saved loads back, under local_data_directory, readable by its owner only', () => {
    const path = statePath(join(directory(), 'neat'));
    expect(saveState(path, 'compute-1', NOW_MS, MEMORY)).toEqual({ detectorsSaved: true });
    expect(loadState(path, 'compute-1', NOW_MS + 299_000, 900)).toEqual({ status: 'loaded', memory: MEMORY, ageS: 299 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });

  test('none yet: the agent starts afresh, silently', () => {
    expect(loadState(join(directory(), 'agent-state.json'), 'compute-1', NOW_MS, 900)).toMatchObject({ status: 'absent', memory: EMPTY_MEMORY });
  });

  test("another host's state, a stale one, one from the future (the clock went back) and garbage are discarded, each saying why", () => {
    const path = statePath(directory());
    saveState(path, 'compute-1', NOW_MS, MEMORY);
    const discarded = (host: string, nowMs: number) => {
      const loaded = loadState(path, host, nowMs, 900);
      expect(loaded.status).toBe('discarded');
      expect(loaded.memory).toBe(EMPTY_MEMORY);
      return loaded.status === 'loaded' ? '' : loaded.reason;
    };
    expect(discarded('compute-2', NOW_MS)).toMatch(/the state of host "compute-1", not of "compute-2"$/);
    expect(discarded('compute-1', NOW_MS + 901_000)).toMatch(/saved 901 s ago, longer than sample_max_age_s \(900 s\)$/);
    expect(discarded('compute-1', NOW_MS - 60_000)).toMatch(/saved 60 s in the future: the clock went backwards/);
    writeFileSync(path, '{"format": "neat-agent-state", "version": 1, "host": "compute-1", "savedAtMs": 1800000000000, "memory": {"vmsCpuMhz": {"a": [-5]}}}');
    expect(discarded('compute-1', NOW_MS)).toMatch(/vmsCpuMhz is not a map of MHz histories$/);
    writeFileSync(path, '{"format": "neat-agent-state", "version": 2}');
    expect(discarded('compute-1', NOW_MS)).toMatch(/not a neat-agent-state file of version 1$/);
    writeFileSync(path, 'garbage');
    expect(discarded('compute-1', NOW_MS)).toMatch(/not JSON/);
  });

  test('a detector state with a non-finite number is left out rather than restored wrong', () => {
    const path = statePath(directory());
    const memory = { ...MEMORY, localManager: { underload: {}, overload: { p: [[Number.NaN]] }, selection: {} } };
    expect(saveState(path, 'compute-1', NOW_MS, memory)).toEqual({ detectorsSaved: false });
    const loaded = loadState(path, 'compute-1', NOW_MS, 900);
    expect(loaded.status === 'loaded' ? loaded.memory : null).toEqual({ ...memory, localManager: null });
    expect((JSON.parse(readFileSync(path, 'utf8')) as { memory: AgentMemory }).memory.vmsCpuMhz).toEqual(MEMORY.vmsCpuMhz);
  });
});
