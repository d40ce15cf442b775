/** What every `neat` subcommand is made of, and the errors that end one with a message instead of a stack. */
import type { parseArgs, ParseArgsConfig } from 'node:util';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A wrong command line: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export type ParsedValues = ReturnType<typeof parseArgs>['values'];

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  readonly allowPositionals: boolean;
  run(values: ParsedValues, positionals: readonly string[], io: Output): Promise<number>;
}

export function stringOption(values: ParsedValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function requiredOption(values: ParsedValues, name: string, usage: string): string {
  const value = stringOption(values, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required\nUsage: ${usage}`);
  return value;
}

export function integerOption(values: ParsedValues, name: string, bounds: { min: number; max: number }): number | undefined {
  const value = stringOption(values, name);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(number) || number < bounds.min || number > bounds.max) {
    throw new UsageError(`--${name} must be an integer from ${bounds.min} to ${bounds.max}; got "${value}"`);
  }
  return number;
}

export function oneOfOption<T extends string>(values: ParsedValues, name: string, allowed: readonly T[]): T | undefined {
  const value = stringOption(values, name);
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got "${value}"`);
  }
  return value as T;
}

/** `--<name> <host>:<port>` (an IPv6 host in brackets); undefined when not given. */
export function listenOption(values: ParsedValues, name: string): { host: string; port: number } | undefined {
  const value = stringOption(values, name);
  if (value === undefined) return undefined;
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65_535) throw new UsageError(`--${name} must be <host>:<port> with a port up to 65535; got "${value}"`);
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}
