/**
 * Validation of algorithm parameters: Neat reads them as JSON from `neat.conf`
 * and trusts them; we check every key and value and name the offending one.
 */

interface Bounds {
  readonly min?: number;
  readonly minExclusive?: boolean;
  readonly max?: number;
  readonly maxExclusive?: boolean;
  readonly integer?: boolean;
}

export interface NumberParam extends Bounds {
  readonly type: 'number';
  readonly description: string;
  readonly default?: number;
}

export interface NumberListParam extends Bounds {
  readonly type: 'numberList';
  readonly description: string;
  readonly minLength: number;
  readonly maxLength: number;
  readonly strictlyIncreasing?: boolean;
  readonly default?: readonly number[];
}

export type ParamSpec = NumberParam | NumberListParam;
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

export type ParamValues<S extends ParamSpecs> = {
  readonly [K in keyof S]: S[K] extends NumberListParam ? readonly number[] : number;
};

export class InvalidParameterError extends Error {
  override name = 'InvalidParameterError';
  constructor(
    readonly algorithm: string,
    readonly parameter: string | null,
    message: string,
  ) {
    super(message);
  }
}

function describeBounds(bounds: Bounds): string {
  const parts: string[] = [];
  if (bounds.min !== undefined) parts.push(`${bounds.minExclusive === true ? '>' : '>='} ${bounds.min}`);
  if (bounds.max !== undefined) parts.push(`${bounds.maxExclusive === true ? '<' : '<='} ${bounds.max}`);
  const kind = bounds.integer === true ? 'an integer' : 'a number';
  return parts.length === 0 ? kind : `${kind} ${parts.join(' and ')}`;
}

function withinBounds(value: unknown, bounds: Bounds): value is number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (bounds.integer === true && !Number.isInteger(value)) return false;
  if (bounds.min !== undefined) {
    if (bounds.minExclusive === true ? value <= bounds.min : value < bounds.min) return false;
  }
  if (bounds.max !== undefined) {
    if (bounds.maxExclusive === true ? value >= bounds.max : value > bounds.max) return false;
  }
  return true;
}

function describeSpec(spec: ParamSpec): string {
  if (spec.type === 'number') return describeBounds(spec);
  const order = spec.strictlyIncreasing === true ? ', strictly increasing' : '';
  return `a list of ${spec.minLength}..${spec.maxLength} values, each ${describeBounds(spec)}${order}`;
}

function parseOne(spec: ParamSpec, value: unknown): number | readonly number[] | null {
  if (spec.type === 'number') return withinBounds(value, spec) ? value : null;
  if (!Array.isArray(value)) return null;
  const list: unknown[] = value;
  if (list.length < spec.minLength || list.length > spec.maxLength) return null;
  if (!list.every((item) => withinBounds(item, spec))) return null;
  const numbers = list;
  if (spec.strictlyIncreasing === true && numbers.some((item, i) => i > 0 && item <= numbers[i - 1])) {
    return null;
  }
  return Object.freeze([...numbers]);
}

/** The valid parameters of an algorithm, for error messages and `--help`. */
export function describeParams(specs: ParamSpecs): string {
  const names = Object.keys(specs);
  if (names.length === 0) return 'this algorithm takes no parameters';
  return 'valid parameters: ' + names.map((name) => `${name} (${describeSpec(specs[name])})`).join(', ');
}

/**
 * Checks raw JSON parameters against the specs: unknown keys, missing required
 * keys and out-of-range values are errors naming the parameter; absent keys
 * with a default take it.
 */
export function parseParams<S extends ParamSpecs>(algorithm: string, specs: S, raw: unknown): ParamValues<S> {
  const given = raw ?? {};
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new InvalidParameterError(algorithm, null,
      `${algorithm}: parameters must be a JSON object, got ${JSON.stringify(raw)}; ${describeParams(specs)}`);
  }
  const entries = given as Record<string, unknown>;
  for (const key of Object.keys(entries)) {
    if (!Object.hasOwn(specs, key)) {
      throw new InvalidParameterError(algorithm, key,
        `${algorithm}: unknown parameter "${key}"; ${describeParams(specs)}`);
    }
  }
  const result: Record<string, number | readonly number[]> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = Object.hasOwn(entries, name) ? entries[name] : spec.default;
    if (value === undefined) {
      throw new InvalidParameterError(algorithm, name,
        `${algorithm}: missing parameter "${name}" (${spec.description}); ${describeParams(specs)}`);
    }
    const parsed = parseOne(spec, value);
    if (parsed === null) {
      throw new InvalidParameterError(algorithm, name,
        `${algorithm}: parameter "${name}" must be ${describeSpec(spec)}, got ${JSON.stringify(value)}`);
    }
    result[name] = parsed;
  }
  return Object.freeze(result) as ParamValues<S>;
}
