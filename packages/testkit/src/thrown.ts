/** The error of class `ErrorClass` that `fn` throws; any other outcome fails the calling test. */
export function thrown<E extends Error>(ErrorClass: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof ErrorClass) return err;
    throw err;
  }
  throw new Error(`expected a ${ErrorClass.name}, but nothing was thrown`);
}
