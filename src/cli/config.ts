/**
 * The configuration of the commands that read one (`neat serve`, `neat sim
 * --mode neat`, `neat sweep --mode neat`), loaded one way for all of them.
 */
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import type { LoadConfigOptions, ManagerConfig } from '../config';

/** The configuration's code (its keys, values and algorithms) is loaded only by a command that reads one or is warned about one. */
const load = createRequire(__filename);
const config = (): typeof import('../config') => load('../config') as typeof import('../config');
/** The prefix of the `NEAT_<KEY>` overrides, looked for before the configuration's code is loaded. */
const ENV_PREFIX = 'NEAT_';

export interface CommandConfigOptions {
  /** `--config`; undefined: every key at its default. */
  readonly configPath: string | undefined;
  readonly env: LoadConfigOptions['env'];
}

/**
 * neat.conf from `--config` when given, else the defaults; `NEAT_<KEY>`
 * environment variables override either, and one that names no key is an
 * error.
 */
export function loadCommandConfig(options: CommandConfigOptions): ManagerConfig {
  // Without HOME, `~` in the defaults expands as in DEFAULT_CONFIG: os.homedir() falls back to the password database.
  const env = options.env.HOME === undefined ? { ...options.env, HOME: homedir() } : options.env;
  return config().loadConfig({ files: options.configPath === undefined ? [] : [options.configPath], env });
}

/**
 * For a command that reads no configuration: a line saying that the
 * `NEAT_…` variables set are ignored, or null when none is.
 */
export function ignoredConfigWarning(env: LoadConfigOptions['env'], why: string): string | null {
  if (!Object.keys(env).some((name) => name.startsWith(ENV_PREFIX))) return null;
  const names = config().configVariables(env);
  if (names.length === 0) return null;
  return `warning: ${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} set, but ${why}; ignored`;
}
