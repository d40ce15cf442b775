/**
 * Assertions that stay on in production: a broken invariant stops the process
 * rather than letting it act on a wrong picture of the data centre.
 */
export class AssertionError extends Error {
  override name = 'AssertionError';
}

/**
 * A message that needs formatting is passed as a function, so that it is
 * built only when the assertion fails: assertions sit in the placement's and
 * the simulator's innermost loops.
 */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === 'string' ? message : message());
  }
}
