/**
 * The one `neat` command. Each subcommand parses its own flags strictly: an
 * unknown subcommand or flag is a usage error (exit code 2) that says what is
 * valid, never a silent default.
 */
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { listAlgorithms } from './engine/registry';
import type { AlgorithmKind } from './engine/registry';
import { CODE_VERSION } from './version';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override name = 'UsageError';
}

interface Output {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: Output = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
};

type ParsedValues = ReturnType<typeof parseArgs>['values'];

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  readonly allowPositionals: boolean;
  run(values: ParsedValues, positionals: readonly string[], io: Output): Promise<number>;
}

const KINDS: readonly AlgorithmKind[] = ['underload', 'overload', 'selection', 'placement'];

const algorithmsCommand: Command = {
  summary: 'list the decision algorithms, their Neat factory names and parameters',
  usage: 'neat algorithms [--kind underload|overload|selection|placement] [--json]',
  options: { kind: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: false,
  run(values, _positionals, io) {
    const kind = values.kind;
    if (typeof kind === 'string' && !KINDS.includes(kind as AlgorithmKind)) {
      throw new UsageError(`--kind must be one of ${KINDS.join(', ')}; got "${kind}"`);
    }
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

const COMMANDS: Readonly<Record<string, Command>> = {
  algorithms: algorithmsCommand,
};

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'neat: event-sourced VM consolidation (a successor to OpenStack Neat)',
    '',
    'Usage: neat <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run "neat <command> --help" for the options of a command.',
    'Options: --help, --version',
  ].join('\n');
}

function parseCommandArgs(name: string, command: Command, args: readonly string[]): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({
      args: [...args],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: command.allowPositionals,
      strict: true,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`neat ${name}: ${reason}\nUsage: ${command.usage}`);
  }
}

export async function main(argv: readonly string[], io: Output = STDIO): Promise<number> {
  try {
    const [first = '--help', ...rest] = argv;
    if (first === '--help' || first === '-h' || first === 'help') {
      io.out(helpText());
      return EXIT_OK;
    }
    if (first === '--version') {
      io.out(CODE_VERSION);
      return EXIT_OK;
    }
    if (!Object.hasOwn(COMMANDS, first)) {
      const what = first.startsWith('-') ? `unknown option "${first}"` : `unknown command "${first}"`;
      throw new UsageError(`${what}; commands: ${Object.keys(COMMANDS).join(', ')} (see neat --help)`);
    }
    const command = COMMANDS[first];
    const { values, positionals } = parseCommandArgs(first, command, rest);
    if (values.help === true) {
      io.out(`${command.summary}\nUsage: ${command.usage}`);
      return EXIT_OK;
    }
    return await command.run(values, positionals, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`neat: ${error.message}`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
