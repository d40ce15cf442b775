/**
 * A small validator for JSON payloads: each schema checks a value read back
 * from a log (or received over the API) and names the path of the first
 * problem, and its TypeScript type is inferred from it, so that the event
 * catalogue is written once.
 */

/**
 * The path of the problem is built while the error unwinds through the
 * containers (`.key`, `[3]`), so that a successful check, the case that runs
 * for every event read back, builds no strings.
 */
export class SchemaError extends Error {
  override name = 'SchemaError';
  private suffix = '';

  constructor(readonly problem: string) {
    super(problem);
  }

  /** Called by the container that holds the bad value, innermost first. */
  within(segment: string): this {
    this.suffix = segment + this.suffix;
    return this;
  }

  /** The path below the value that was checked, e.g. `.vms[2].cpuMhz`. */
  get path(): string {
    return this.suffix;
  }
}

export interface Schema<T> {
  /** Throws a `SchemaError` for the first problem found. */
  check(value: unknown): T;
  readonly description: string;
}

/** Checks `value` and, on failure, throws a `SchemaError` whose message starts with the full path from `root`. */
export function validate<T>(schema: Schema<T>, value: unknown, root: string): T {
  try {
    return schema.check(value);
  } catch (error) {
    if (error instanceof SchemaError) error.message = `${root}${error.path}: ${error.problem}`;
    throw error;
  }
}

/** Adds a container's segment to the path of a failure below it; other errors pass through. */
function within(error: unknown, segment: string): unknown {
  return error instanceof SchemaError ? error.within(segment) : error;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

function fail(expected: string, value: unknown): never {
  throw new SchemaError(`expected ${expected}, got ${describe(value)}`);
}

export function string(options: { minLength?: number; maxLength?: number } = {}): Schema<string> {
  const minLength = options.minLength ?? 0;
  const maxLength = options.maxLength ?? 4096;
  const description = `a string of ${minLength}..${maxLength} characters`;
  return {
    description,
    check(value) {
      if (typeof value !== 'string' || value.length < minLength || value.length > maxLength) fail(description, value);
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
    check(value) {
      if (typeof value !== 'number' || !Number.isFinite(value)
        || (options.integer === true && !Number.isInteger(value))
        || (options.min !== undefined && value < options.min)
        || (options.max !== undefined && value > options.max)) {
        fail(description, value);
      }
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    description: 'a boolean',
    check(value) {
      if (typeof value !== 'boolean') fail('a boolean', value);
      return value;
    },
  };
}

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  const description = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return {
    description,
    check(value) {
      if (typeof value !== 'string' || !values.includes(value)) fail(description, value);
      return value;
    },
  };
}

export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return {
    description: `${inner.description} or null`,
    check: (value) => (value === null ? null : inner.check(value)),
  };
}

export function array<T>(item: Schema<T>, options: { maxLength?: number } = {}): Schema<T[]> {
  const maxLength = options.maxLength ?? 100_000;
  const description = `an array of at most ${maxLength} items`;
  return {
    description,
    check(value) {
      if (!Array.isArray(value) || value.length > maxLength) fail(description, value);
      const items: unknown[] = value;
      for (let i = 0; i < items.length; i++) {
        try {
          item.check(items[i]);
        } catch (error) {
          throw within(error, `[${i}]`);
        }
      }
      return items as T[];
    },
  };
}

/**
 * An array of numbers checked in one tight loop: the simulator records a few
 * thousand per update, and a closure call per element would dominate.
 */
export function numbers(options: { min?: number; integer?: boolean; maxLength?: number } = {}): Schema<number[]> {
  const min = options.min ?? -Infinity;
  const maxLength = options.maxLength ?? 1_000_000;
  const element = `${options.integer === true ? 'an integer' : 'a finite number'}${options.min === undefined ? '' : ` >= ${options.min}`}`;
  const description = `an array of at most ${maxLength} numbers, each ${element}`;
  return {
    description,
    check(value) {
      if (!Array.isArray(value) || value.length > maxLength) fail(description, value);
      const items: unknown[] = value;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (typeof item !== 'number' || !Number.isFinite(item) || item < min || (options.integer === true && !Number.isInteger(item))) {
          throw within(new SchemaError(`expected ${element}, got ${describe(item)}`), `[${i}]`);
        }
      }
      return items as number[];
    },
  };
}

/** An object with arbitrary keys (ids, host names) and values of one schema. */
export function record<T>(valueSchema: Schema<T>, options: { maxKeys?: number } = {}): Schema<Record<string, T>> {
  const maxKeys = options.maxKeys ?? 100_000;
  const description = `an object of at most ${maxKeys} keys`;
  return {
    description,
    check(value) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(description, value);
      const entries = Object.entries(value);
      if (entries.length > maxKeys) fail(description, value);
      for (const [key, element] of entries) {
        try {
          valueSchema.check(element);
        } catch (error) {
          throw within(error, `.${key}`);
        }
      }
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
  return { description: `${inner.description} (optional)`, optional: true, check: (value) => inner.check(value) };
}

function isOptional(schema: Schema<unknown>): boolean {
  return (schema as Partial<Optional<unknown>>).optional === true;
}

/** An object with exactly these keys: a missing required key or an unknown key is an error. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const keys = Object.keys(shape);
  const entries = keys.map((key) => [key, shape[key], isOptional(shape[key])] as const);
  const description = `an object with keys ${keys.join(', ')}`;
  return {
    description,
    check(value) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(description, value);
      const given = value as Record<string, unknown>;
      // Called for every event read back, so no per-call allocation on the happy path.
      let present = 0;
      for (const [key, schema, optionalKey] of entries) {
        if (!Object.hasOwn(given, key)) {
          if (optionalKey) continue;
          throw new SchemaError(`missing (${schema.description})`).within(`.${key}`);
        }
        present += 1;
        try {
          schema.check(given[key]);
        } catch (error) {
          throw within(error, `.${key}`);
        }
      }
      let total = 0;
      for (const key in given) if (Object.hasOwn(given, key)) total += 1;
      if (total !== present) {
        const unknown = Object.keys(given).find((key) => !Object.hasOwn(shape, key));
        throw new SchemaError(`unknown key (expected ${keys.join(', ')})`).within(`.${unknown ?? '?'}`);
      }
      return value as ObjectOf<S>;
    },
  };
}

/** Any JSON value (algorithm parameters, configurations): finite numbers, bounded depth. */
export function json(options: { maxDepth?: number } = {}): Schema<unknown> {
  const maxDepth = options.maxDepth ?? 16;
  const description = `a JSON value nested at most ${maxDepth} deep`;
  const walk = (value: unknown, depth: number): void => {
    if (depth > maxDepth) fail(description, value);
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) fail('a finite number', value);
      return;
    }
    if (Array.isArray(value)) {
      const items: unknown[] = value;
      for (let i = 0; i < items.length; i++) {
        try {
          walk(items[i], depth + 1);
        } catch (error) {
          throw within(error, `[${i}]`);
        }
      }
      return;
    }
    if (typeof value === 'object') {
      for (const [key, element] of Object.entries(value)) {
        try {
          walk(element, depth + 1);
        } catch (error) {
          throw within(error, `.${key}`);
        }
      }
      return;
    }
    fail(description, value);
  };
  return {
    description,
    check(value) {
      walk(value, 0);
      return value;
    },
  };
}
