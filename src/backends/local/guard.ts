import { cancelledBy, engineError } from './failures.js';
import type { EngineFailure } from './types.js';

/**
 * The boundary every public engine call goes through:
 * - an abort resolves the call at once with `cancelled`, whatever step is running (sharp calls
 *   cannot be interrupted, so they finish in the background, and every later step checks the
 *   signal and stops, removing temporary files, before anything is published);
 * - a call that finished after its signal aborted still reports `cancelled`, since the caller has
 *   moved on;
 * - an unexpected exception (a bug) becomes an `engine-error` with its message and no stack.
 */
export function guarded<T>(
  signal: AbortSignal | undefined,
  work: () => Promise<T | EngineFailure>,
): Promise<T | EngineFailure> {
  const safe = work().then(
    (result) => (signal?.aborted ? cancelledBy(signal) : result),
    (error: unknown) => engineError(error instanceof Error ? error.message : String(error)),
  );
  if (signal === undefined) return safe;
  if (signal.aborted) return Promise.resolve(cancelledBy(signal));
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(cancelledBy(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void safe.then((result) => {
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    });
  });
}
