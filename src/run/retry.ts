import type { AttemptFailure, FailureReason } from '../backends/backend.js';
import type { RetryOn } from '../recipe/types.js';
import { unreachable } from '../util/unreachable.js';

/** 5xx answers are retried at most this often, whatever `retries` says: a down service rarely recovers in seconds. */
export const MAX_UNAVAILABLE_RETRIES = 3;

export interface BackoffSettings {
  /** First retry waits up to this long (full jitter: uniformly between 0 and the cap of the step). */
  readonly baseMs: number;
  readonly capMs: number;
  readonly random: () => number;
}

export type RetryDecision =
  | { readonly retry: true; readonly delayMs: number; readonly reattach: string | undefined }
  | { readonly retry: false; readonly retryable: boolean };

/**
 * Whether a failed attempt is tried again. Retryable (rate limits, timeouts, 5xx, dropped
 * connections, missing downloads, unclear answers about a live job) up to the stage's `retries`; a failed or cancelled remote job
 * only when the stage opts in with `retry_on`, because it may have cost money; everything else
 * (bad input, no token, our own bugs) never.
 */
export function decideRetry(
  failure: AttemptFailure,
  attemptsSoFar: number,
  settings: {
    readonly retries: number;
    readonly retryOn: readonly RetryOn[];
    readonly unavailableSoFar: number;
  },
  backoff: BackoffSettings,
): RetryDecision {
  const retryable = isRetryable(failure.reason, settings.retryOn);
  if (!retryable) return { retry: false, retryable: false };
  if (attemptsSoFar > settings.retries) return { retry: false, retryable: true };
  if (
    failure.reason === 'service-unavailable' &&
    settings.unavailableSoFar > Math.min(settings.retries, MAX_UNAVAILABLE_RETRIES)
  ) {
    return { retry: false, retryable: true };
  }
  const ceiling = Math.min(backoff.capMs, backoff.baseMs * 2 ** (attemptsSoFar - 1));
  const delayMs = Math.round(backoff.random() * ceiling);
  const reattach =
    failure.jobAlive === true && failure.requestId !== undefined ? failure.requestId : undefined;
  return { retry: true, delayMs, reattach };
}

export function isRetryable(reason: FailureReason, retryOn: readonly RetryOn[]): boolean {
  switch (reason) {
    case 'rate-limited':
    case 'timed-out':
    case 'service-unavailable':
    case 'transport':
    case 'missing-download':
    case 'unclear-answer':
      return true;
    case 'job-failed':
      return retryOn.includes('failed');
    case 'job-cancelled':
      return retryOn.includes('cancelled');
    case 'invalid-input':
    case 'not-permitted':
    case 'missing-file':
    case 'unauthorized':
    case 'client-error':
    case 'protocol':
    case 'client-missing':
    case 'engine-error':
    case 'interrupted':
    case 'postprocess-failed':
    case 'cannot-write':
      return false;
    default:
      return unreachable(reason);
  }
}

/** True for failures that a later re-run may fix without changing anything (exit 75). */
export function isTransient(reason: FailureReason): boolean {
  return (
    reason === 'rate-limited' ||
    reason === 'timed-out' ||
    reason === 'service-unavailable' ||
    reason === 'transport' ||
    reason === 'missing-download' ||
    reason === 'unclear-answer'
  );
}
