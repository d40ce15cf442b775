/**
 * What the long-running commands (`neat serve`, `neat agent`) share about
 * their console: levelled lines as text on a terminal or one JSON object each
 * (pino) for journald, Loki or Elasticsearch; the verbosity from the flags or
 * Neat's `log_level`; and the signals that stop them, within a deadline.
 */
import pino from 'pino';
import type { ManagerConfig } from '../config';
import { oneOfOption, UsageError } from './command';
import type { Output, ParsedValues } from './command';

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
/** silent: nothing; quiet: warnings and errors; normal: plus what the command is doing; verbose: plus details (debug). */
export type Verbosity = 'silent' | 'quiet' | 'normal' | 'verbose';
export type Fields = Readonly<Record<string, unknown>>;

export interface ConsoleLog {
  /** Printed only when verbose. */
  debug(message: string, fields?: Fields): void;
  /** What the command is doing; not printed when quiet unless `always` (a start, an end summary). */
  info(message: string, fields?: Fields, always?: boolean): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
}

export interface ConsoleOptions {
  readonly format: LogFormat;
  readonly verbosity: Verbosity;
  readonly io: Output;
  /** The command, which prefixes its text warnings and errors (`neat agent: warning: …`). */
  readonly command: string;
}

/** Neat's `log_level`: 0 none, 1 warnings and errors, 2 plus info, 3 plus debug. */
const LEVEL_VERBOSITY: Readonly<Record<ManagerConfig['logLevel'], Verbosity>> = { 0: 'silent', 1: 'quiet', 2: 'normal', 3: 'verbose' };

/** `--log-format`, and `--quiet`/`--verbose` over the configuration's `log_level` (null: the default level). */
export function consoleOptions(values: ParsedValues, logLevel: ManagerConfig['logLevel'] | null): { format: LogFormat; verbosity: Verbosity } {
  if (values.quiet === true && values.verbose === true) throw new UsageError('--quiet and --verbose exclude each other');
  const format = oneOfOption(values, 'log-format', LOG_FORMATS) ?? (process.stdout.isTTY ? 'text' : 'json');
  const verbosity = values.quiet === true ? 'quiet' : values.verbose === true ? 'verbose' : logLevel === null ? 'normal' : LEVEL_VERBOSITY[logLevel];
  return { format, verbosity };
}

export function consoleLog(options: ConsoleOptions): ConsoleLog & { readonly pino: pino.Logger | null } {
  const { io, verbosity, command } = options;
  const shows = { debug: verbosity === 'verbose', info: verbosity === 'verbose' || verbosity === 'normal', problems: verbosity !== 'silent' };
  if (options.format === 'json') {
    // Synchronous writes through `io`: a line is out before the process exits, whatever stopped it.
    const logger = pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime }, { write: (line: string) => { io.out(line); } });
    return {
      pino: logger,
      debug: (message, fields = {}) => { if (shows.debug) logger.debug(fields, message); },
      info: (message, fields = {}, always = false) => { if (shows.info || (always && shows.problems)) logger.info(fields, message); },
      warn: (message, fields = {}) => { if (shows.problems) logger.warn(fields, message); },
      error: (message, fields = {}) => { if (shows.problems) logger.error(fields, message); },
    };
  }
  return {
    pino: null,
    debug: (message) => { if (shows.debug) io.out(message); },
    info: (message, _fields, always = false) => { if (shows.info || (always && shows.problems)) io.out(message); },
    warn: (message) => { if (shows.problems) io.err(`${command}: warning: ${message}`); },
    error: (message) => { if (shows.problems) io.err(`${command}: ${message}`); },
  };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.stack ?? error.message : String(error);
}

/** How long a stop may take before the process exits anyway. */
const STOP_DEADLINE_MS = 5_000;

/** The signals that stop a command: Ctrl-C, a service manager's stop, a closed terminal. */
const STOP_SIGNALS: Readonly<Partial<Record<NodeJS.Signals, number>>> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/** Resolves at the first stop signal; a second one exits at once (with 128 + its number, as a shell reports it). */
export function firstSignal(log: ConsoleLog): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        log.warn(`${signal} again: exiting at once`);
        process.exit(128 + (STOP_SIGNALS[signal] ?? 0));
      }
      received = true;
      log.info(`${signal}: stopping (a second signal exits at once)`, { signal }, true);
      resolve(signal);
    };
    for (const signal of Object.keys(STOP_SIGNALS) as NodeJS.Signals[]) process.on(signal, onSignal);
  });
}

/** Stops, within a deadline: a stop that hangs is a bug, and the process is not left running because of it. */
export async function stopWithin(log: ConsoleLog, stop: () => Promise<void>): Promise<void> {
  const watchdog = setTimeout(() => {
    log.error(`could not stop within ${STOP_DEADLINE_MS / 1000} s; exiting`);
    process.exit(1);
  }, STOP_DEADLINE_MS);
  watchdog.unref();
  await stop();
  clearTimeout(watchdog);
}
