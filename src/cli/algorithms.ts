/** `neat algorithms`: what the decision engine offers, by name, Neat factory name and parameters. */
import { listAlgorithms } from '../engine/registry';
import type { AlgorithmKind } from '../engine/registry';
import { EXIT_OK, oneOfOption } from './command';
import type { Command } from './command';

const KINDS: readonly AlgorithmKind[] = ['underload', 'overload', 'selection', 'placement'];

export const algorithmsCommand: Command = {
  summary: 'list the decision algorithms, their Neat factory names and parameters',
  usage: 'neat algorithms [--kind underload|overload|selection|placement] [--json]',
  options: { kind: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: false,
  run(values, _positionals, io) {
    const kind = oneOfOption(values, 'kind', KINDS);
    const algorithms = listAlgorithms().filter((a) => kind === undefined || a.kind === kind);
    if (values.json === true) {
      io.out(JSON.stringify(algorithms, null, 2));
      return Promise.resolve(EXIT_OK);
    }
    for (const a of algorithms) {
      io.out(`${a.kind.padEnd(10)} ${a.name}: ${a.summary}`);
      if (a.neatFactory !== null) io.out(`${''.padEnd(11)}Neat: ${a.neatFactory}`);
      io.out(`${''.padEnd(11)}${a.params}`);
    }
    return Promise.resolve(EXIT_OK);
  },
};
