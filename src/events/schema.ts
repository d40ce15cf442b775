/**
 * A small validator for JSON payloads: each schema checks a value read back
 * from a log (or received over the API) and names the path of the first
 * problem, and its TypeScript type is inferred from it, so that the event
 * catalogue is written once.
 */

export class SchemaError extends Error {
  override name = 'SchemaError';
  constructor(readonly path: string, readonly problem: string) {
    super(`${path}: ${problem}`);
  }
}

export interface Schema<T> {
  /** Throws a `SchemaError` naming the path of the first problem. */
  check(value: unknown, path: string): T;
  readonly description: string;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

function fail(path: string, expected: string, value: unknown): never {
  throw new SchemaError(path, `expected ${expected}, got ${describe(value)}`);
}

export function string(options: { minLength?: number; maxLength?: number } = {}): Schema<string> {
  const minLength = options.minLength ?? 0;
  const maxLength = options.maxLength ?? 4096;
  const description = `a string of ${minLength}..${maxLength} characters`;
  return {
    description,
    check(value, path) {
      if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) fail(path, description, value);
      return value;
    },
  };
}

export function number(options: { min?: number; max?: number; integer?: boolean } = {}): Schema<number> {
  const parts = [options.integer === true ? 'an integer' : 'a finite number'];
  if (options.min !== undefined) parts.push(`>= ${options.min}`);
  if (options.max !== undefined) parts.push(`<= ${options.max}`);
  const description = parts.join(' ');
  return {
    description,
    check(value, path) {
      if (typeof value !== 'number' || !Number.isFinite(value)
        || (options.integer === true && !Number.isInteger(value))
        || (options.min !== undefined && value < options.min)
        || (options.max !== undefined && value > options.max)) {
        fail(path, description, value);
      }
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    description: 'a boolean',
    check(value, path) {
      if (typeof value !== 'boolean') fail(path, 'a boolean', value);
      return value;
    },
  };
}

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  const description = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return {
    description,
    check(value, path) {
      if (typeof value !== 'string' || !values.includes(value)) fail(path, description, value);
      return value;
    },
  };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    description: `${inner.description} or null`,
    check: (value, path) => (value === null ? null : inner.check(value, path)),
  };
}

export function array<T>(item: Schema<T>, options: { maxLength?: number } = {}): Schema<T[]> {
  const maxLength = options.maxLength ?? 100_000;
  const description = `an array of at most ${maxLength} items`;
  return {
    description,
    check(value, path) {
      if (!Array.isArray(value) || value.length > maxLength) fail(path, description, value);
      const items: unknown[] = value;
      items.forEach((element, i) => item.check(element, `${path}[${i}]`));
      return items as T[];
    },
  };
}

/** An object with arbitrary keys (ids, host names) and values of one schema. */
export function record<T>(valueSchema: Schema<T>, options: { maxKeys?: number } = {}): Schema<Record<string, T>> {
  const maxKeys = options.maxKeys ?? 100_000;
  const description = `an object of at most ${maxKeys} keys`;
  return {
    description,
    check(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, description, value);
      const entries = Object.entries(value);
      if (entries.length > maxKeys) fail(path, description, value);
      for (const [key, element] of entries) valueSchema.check(element, `${path}.${key}`);
      return value as Record<string, T>;
    },
  };
}

type Shape = Readonly<Record<string, Schema<unknown>>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
export type ObjectOf<S extends Shape> =
  { readonly [K in RequiredKeys<S>]: Infer<S[K]> } & { readonly [K in OptionalKeys<S>]?: Infer<S[K]> };

interface Optional<T> extends Schema<T> {
  readonly optional: true;
}

/** A key that may be absent (but, when present, must match). */
export function optional<T>(inner: Schema<T>): Optional<T> {
  return { description: `${inner.description} (optional)`, optional: true, check: (value, path) => inner.check(value, path) };
}

function isOptional(schema: Schema<unknown>): boolean {
  return (schema as Partial<Optional<unknown>>).optional === true;
}

/** An object with exactly these keys: a missing required key or an unknown key is an error. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const keys = Object.keys(shape);
  const description = `an object with keys ${keys.join(', ')}`;
  return {
    description,
    check(value, path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, description, value);
      const given = value as Record<string, unknown>;
      for (const key of Object.keys(given)) {
        if (!Object.hasOwn(shape, key)) throw new SchemaError(`${path}.${key}`, `unknown key (expected ${keys.join(', ')})`);
      }
      for (const key of keys) {
        const schema = shape[key];
        if (!Object.hasOwn(given, key)) {
          if (isOptional(schema)) continue;
          throw new SchemaError(`${path}.${key}`, `missing (${schema.description})`);
        }
        schema.check(given[key], `${path}.${key}`);
      }
      return value as ObjectOf<S>;
    },
  };
}

/** Any JSON value (algorithm parameters, configurations): finite numbers, bounded depth. */
export function json(options: { maxDepth?: number } = {}): Schema<unknown> {
  const maxDepth = options.maxDepth ?? 16;
  const description = `a JSON value nested at most ${maxDepth} deep`;
  const walk = (value: unknown, path: string, depth: number): void => {
    if (depth > maxDepth) fail(path, description, value);
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) fail(path, 'a finite number', value);
      return;
    }
    if (Array.isArray(value)) {
      value.forEach((element, i) => { walk(element, `${path}[${i}]`, depth + 1); });
      return;
    }
    if (typeof value === 'object') {
      for (const [key, element] of Object.entries(value)) walk(element, `${path}.${key}`, depth + 1);
      return;
    }
    fail(path, description, value);
  };
  return {
    description,
    check(value, path) {
      walk(value, path, 0);
      return value;
    },
  };
}
