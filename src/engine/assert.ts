/**
 * Assertions that stay on in production: a broken invariant stops the process
 * rather than letting it act on a wrong picture of the data centre.
 */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new AssertionError(message);
  }
}

export function assertFiniteNumber(value: number, what: string): void {
  assert(Number.isFinite(value), `${what} must be a finite number, got ${String(value)}`);
}

export function assertNever(value: never, what: string): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
