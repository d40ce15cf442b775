import fc from 'fast-check';
import type { HostReading } from '../../src/agent/hypervisor';
import { EMPTY_MEMORY, HostAgent } from '../../src/agent/loop';
import type { AgentSettings, AgentTransport } from '../../src/agent/loop';
import type { EventData } from '../../src/events/catalogue';
import { createRng } from '../../src/rng';

const SETTINGS: AgentSettings = {
  underload: { name: 'last_n_average_threshold', params: { threshold: 0.3, n: 2 } },
  overload: { name: 'otf', params: { otf: 0.5, threshold: 0.8, limit: 0 } },
  selection: { name: 'minimum_migration_time_max_cpu', params: { last_n: 2 } },
  timeStepS: 300,
  migrationBandwidthMbPerS: 10,
  hostCpuUsableByVms: 1,
  historyLength: 5,
};

/** What the agent sent, and the histories the manager "holds" for arriving VMs. */
function recordingTransport(held: Record<string, number[]> = {}) {
  const sent = { samples: [] as EventData<'UtilizationSampled'>[], requests: [] as { reason: string; vmIds: readonly string[] }[], fetched: [] as string[] };
  const transport: AgentTransport = {
    recordSample: (sample) => { sent.samples.push(sample); return Promise.resolve(); },
    request: (_host, reason, vmIds) => { sent.requests.push({ reason, vmIds }); return Promise.resolve(); },
    vmHistory: (vmId) => { sent.fetched.push(vmId); return Promise.resolve(held[vmId] ?? null); },
  };
  return { sent, transport };
}

function reading(vms: Record<string, number | null>, hypervisorCpuMhz: number | null = 0, timeS = 0): HostReading {
  return {
    timeS, capacity: { cores: 4, coreMhz: 1000, ramMb: 8192 }, hypervisorCpuMhz,
    vms: Object.entries(vms).map(([vmId, cpuMhz]) => ({ vmId, cpuMhz, ramMb: 1024 })),
  };
}

function agentWith(transport: AgentTransport, memory = EMPTY_MEMORY): HostAgent {
  return new HostAgent({ host: 'compute-1', transport, settings: SETTINGS, rng: createRng('loop'), memory });
}

describe('the agent loop: collection', () => {
  test("a first reading (no interval yet) sends nothing, as Neat's collector's first iteration", async () => {
    const { sent, transport } = recordingTransport();
    const outcome = await agentWith(transport).collect(reading({ a: null, b: null }, null));
    expect(outcome.sample).toBeNull();
    expect(sent.samples).toEqual([]);
  });

  test('a VM arriving continues the history the manager holds; with no interval yet, its last value stands (Neat rule 56)', async () => {
    const { sent, transport } = recordingTransport({ b: [100, 200, 300] });
    const agent = agentWith(transport);
    await agent.collect(reading({ a: 500 }));
    const outcome = await agent.collect(reading({ a: 600, b: null }));
    expect(outcome.addedVmIds).toEqual(['b']);
    expect(sent.fetched).toEqual(['a', 'b']);
    expect(sent.samples[1].vms).toEqual([{ vmId: 'a', cpuMhz: 600, ramMb: 1024 }, { vmId: 'b', cpuMhz: 300, ramMb: 1024 }]);
    expect(agent.memory().vmsCpuMhz).toEqual({ a: [500, 600], b: [100, 200, 300, 300] });
  });

  test('a VM arriving that the manager knows nothing of starts empty and waits for its first interval', async () => {
    const { sent, transport } = recordingTransport();
    const agent = agentWith(transport);
    await agent.collect(reading({ a: 500 }));
    await agent.collect(reading({ a: 500, c: null }));
    expect(sent.samples[1].vms.map((vm) => vm.vmId)).toEqual(['a']);
    expect(agent.memory().vmsCpuMhz.c).toEqual([]);
    await agent.collect(reading({ a: 500, c: 700 }));
    expect(agent.memory().vmsCpuMhz.c).toEqual([700]);
  });

  test('a VM gone from the host is forgotten (migrated out or deleted); an idle host still reports its hypervisor', async () => {
    const { sent, transport } = recordingTransport();
    const agent = agentWith(transport);
    await agent.collect(reading({ a: 500, b: 400 }));
    const outcome = await agent.collect(reading({}, 50));
    expect(outcome.removedVmIds).toEqual(['a', 'b']);
    expect(agent.memory().vmsCpuMhz).toEqual({});
    expect(sent.samples[1]).toEqual({ host: 'compute-1', hypervisorCpuMhz: 50, vms: [] });
  });

  test('histories keep data_collector_data_length values, the newest', async () => {
    const { transport } = recordingTransport();
    const agent = agentWith(transport);
    for (let i = 1; i <= 8; i++) await agent.collect(reading({ a: i * 10 }, i));
    expect(agent.memory().vmsCpuMhz.a).toEqual([40, 50, 60, 70, 80]);
    expect(agent.memory().hypervisorCpuMhz).toEqual([4, 5, 6, 7, 8]);
  });

  test('property: whatever the readings, histories are bounded and hold exactly the VMs of the last reading', async () => {
    const vmIds = ['a', 'b', 'c', 'd'];
    const readings = fc.array(fc.dictionary(fc.constantFrom(...vmIds), fc.option(fc.integer({ min: 0, max: 4000 }), { nil: null })), { maxLength: 20 });
    await fc.assert(fc.asyncProperty(readings, async (sequence) => {
      const { sent, transport } = recordingTransport({ d: [1, 2, 3, 4, 5, 6, 7] });
      const agent = agentWith(transport);
      for (const vms of sequence) await agent.collect(reading(vms));
      const memory = agent.memory();
      expect(Object.keys(memory.vmsCpuMhz).sort()).toEqual(Object.keys(sequence.at(-1) ?? {}).sort());
      for (const history of Object.values(memory.vmsCpuMhz)) expect(history.length).toBeLessThanOrEqual(SETTINGS.historyLength);
      for (const sample of sent.samples) expect(sample.vms.every((vm) => vm.cpuMhz >= 0)).toBe(true);
    }), { numRuns: 200 });
  });
});

describe('the agent loop: the local manager', () => {
  test("an overloaded host sends Neat's overload request with the selected VMs; an underloaded one an underload request", async () => {
    const { sent, transport } = recordingTransport();
    const agent = agentWith(transport);
    await agent.collect(reading({ a: 2000, b: 1900 }));
    await agent.collect(reading({ a: 2000, b: 1900 }));
    expect((await agent.step()).decision).toEqual({ kind: 'overload', vmIds: ['a'] });
    const quiet = recordingTransport();
    const idle = agentWith(quiet.transport);
    await idle.collect(reading({ a: 100 }));
    await idle.collect(reading({ a: 100 }));
    expect((await idle.step()).decision).toEqual({ kind: 'underload' });
    expect([sent.requests, quiet.sent.requests]).toEqual([[{ reason: 'overload', vmIds: ['a'] }], [{ reason: 'underload', vmIds: [] }]]);
  });

  test('before any reading the step has no data; a host without VMs is idle and sends nothing', async () => {
    const { sent, transport } = recordingTransport();
    const agent = agentWith(transport);
    expect((await agent.step()).decision).toEqual({ kind: 'no-data' });
    await agent.collect(reading({}, 10));
    expect((await agent.step()).decision).toEqual({ kind: 'idle' });
    expect(sent.requests).toEqual([]);
  });

  test("a restarted agent continues OTF's counts from its memory, as if it had never stopped", async () => {
    const busy = reading({ a: 3500 });
    const calm = reading({ a: 2000 });
    const run = async (agent: HostAgent, readings: HostReading[]) => {
      const decisions = [];
      for (const r of readings) {
        await agent.collect(r);
        decisions.push((await agent.step()).decision.kind);
      }
      return decisions;
    };
    const sequence = [calm, calm, busy, calm, busy, busy, calm];
    const straight = await run(agentWith(recordingTransport().transport), sequence);
    const first = agentWith(recordingTransport().transport);
    const before = await run(first, sequence.slice(0, 4));
    const memory = JSON.parse(JSON.stringify(first.memory())) as ReturnType<HostAgent['memory']>;
    const after = await run(agentWith(recordingTransport().transport, memory), sequence.slice(4));
    expect([...before, ...after]).toEqual(straight);
    expect(memory.localManager?.overload).toEqual({ overloadSteps: 1, totalSteps: 4 });
  });
});
