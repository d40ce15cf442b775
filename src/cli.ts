/**
 * The one `neat` command. Each subcommand parses its own flags strictly: an
 * unknown subcommand or flag is a usage error (exit code 2) that says what is
 * valid, never a silent default. Errors in what the user gave (a trace, a log
 * file, a policy) end with their message and exit code 1, without a stack.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './cli/command';
import type { Command, Output } from './cli/command';
import { CODE_VERSION } from './version';

const STDIO: Output = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
};

/**
 * Each command's module is loaded when that command runs: `neat agent` on a
 * compute host loads neither koa, SQLite, SSH nor the simulator.
 */
const load = createRequire(__filename);
const COMMANDS: Readonly<Record<string, () => Command>> = {
  algorithms: () => (load('./cli/algorithms') as typeof import('./cli/algorithms')).algorithmsCommand,
  sim: () => (load('./cli/simulate') as typeof import('./cli/simulate')).simCommand,
  replay: () => (load('./cli/simulate') as typeof import('./cli/simulate')).replayCommand,
  sweep: () => (load('./cli/sweep') as typeof import('./cli/sweep')).sweepCommand,
  serve: () => (load('./cli/serve') as typeof import('./cli/serve')).serveCommand,
  agent: () => (load('./cli/agent') as typeof import('./cli/agent')).agentCommand,
  trace: () => (load('./cli/trace') as typeof import('./cli/trace')).traceCommand,
  report: () => (load('./cli/report') as typeof import('./cli/report')).reportCommand,
};

/**
 * Errors about the user's input (a trace, a log file, a configuration, a
 * policy): reported as a message, exit code 1. Known by name, since their
 * classes live in the modules a command may not load.
 */
const INPUT_ERRORS: ReadonlySet<string> = new Set([
  'TraceError', 'LogFileError', 'EventDecodeError', 'SchemaError', 'ReplayError', 'SimulationSetupError', 'SimulationError',
  'ConfigError', 'UnknownPolicyError', 'InvalidParameterError', 'ServiceStartError', 'ResumeError', 'AnalysisError', 'ReportError',
]);

function helpText(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(width)}  ${command().summary}`);
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

/** A value that parseArgs would take for an option of its own, although the user meant a number: `--hosts -5`. */
const NEGATIVE_NUMBER = /^-(?:\d|\.\d)/;

/**
 * `--name -5` becomes `--name=-5` for an option that takes a value, so that the
 * value reaches the option's own check (which names the option and the valid
 * range) instead of parseArgs' "argument is ambiguous".
 */
function joinNegativeValues(command: Command, args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    // After `--` every argument is a positional, as parseArgs reads them.
    if (arg === '--') return [...joined, ...args.slice(index)];
    const name = arg.startsWith('--') ? arg.slice(2) : null;
    const next = args.at(index + 1);
    if (name !== null && Object.hasOwn(command.options, name) && command.options[name].type === 'string'
      && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      joined.push(`${arg}=${next}`);
      index += 1;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function parseCommandArgs(command: Command, args: readonly string[]): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({
      args: joinNegativeValues(command, args),
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: command.allowPositionals,
      strict: true,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${reason}\nUsage: ${command.usage}`);
  }
}

/** Runs one command line; errors are printed once, prefixed with `neat <command>:` (or `neat:` before a command is known). */
export async function main(argv: readonly string[], io: Output = STDIO): Promise<number> {
  let prefix = 'neat';
  try {
    if (argv.length === 0) {
      io.err(helpText());
      return EXIT_USAGE;
    }
    const [first, ...rest] = argv;
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
    prefix = `neat ${first}`;
    const command = COMMANDS[first]();
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help === true) {
      io.out(`${command.summary}\nUsage: ${command.usage}`);
      return EXIT_OK;
    }
    return await command.run(values, positionals, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`${prefix}: ${error.message}`);
      return EXIT_USAGE;
    }
    if (error instanceof Error && INPUT_ERRORS.has(error.name)) {
      io.err(`${prefix}: ${error.message}`);
      return EXIT_FAILURE;
    }
    throw error;
  }
}
