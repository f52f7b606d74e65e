import type { FailureReason } from '../backends/backend.js';
import type { ModelId } from '../catalog/model.js';
import type { StageId } from '../recipe/types.js';
import type { JsonValue } from '../util/json.js';

/** One attempt of one job, as the run record keeps it. Times are epoch milliseconds. */
export interface AttemptRecord {
  readonly attempt: number;
  /** The fan-out item, or null for a stage without foreach. */
  readonly item: number | null;
  readonly requestId: string | null;
  /** True when this attempt followed a job submitted earlier instead of submitting one. */
  readonly reattached: boolean;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly outcome: 'succeeded' | 'failed';
  readonly reason?: FailureReason;
  readonly retryable?: boolean;
  readonly message?: string;
  readonly exitCode?: number;
  readonly stderrTail?: string;
}

/** Why a stage did not run. `cannot-write`: the run stopped because a file of its own could not be written. */
export type SkipReason =
  'dependency-failed' | 'interrupted' | 'fail-fast' | 'unauthorized' | 'cannot-write' | 'not-selected';

/** A stage's final failure, by reason (the last attempt's, or the input check's). */
export interface StageFailure {
  readonly reason: FailureReason;
  readonly message: string;
  /** True when only retryable failures remain (a re-run is safe and may succeed). */
  readonly retryable: boolean;
  readonly exitCode?: number;
  readonly stderrTail?: string;
  /** Fan-out: the items that failed. */
  readonly items?: readonly number[];
}

interface StageResultBase {
  readonly stage: StageId;
  readonly model: ModelId;
  /** The body sent to the model (a list of bodies for a fan-out stage); null when never resolved. */
  readonly input: JsonValue;
  readonly attempts: readonly AttemptRecord[];
  /**
   * When its first attempt started; for a stage with no attempt (cached, skipped, refused before
   * submitting), when it became ready. A wait for a --concurrency slot is not the stage's time.
   */
  readonly startedAt: number;
  readonly endedAt: number;
}

/** What happened to a stage. Printers switch over `status` exhaustively. */
export type StageResult =
  | (StageResultBase & {
      readonly status: 'succeeded' | 'cached';
      readonly outputs: JsonValue;
      readonly files: readonly string[];
      readonly requestIds: readonly string[];
    })
  | (StageResultBase & {
      readonly status: 'failed';
      readonly failure: StageFailure;
      readonly outputs: JsonValue;
      readonly files: readonly string[];
    })
  | (StageResultBase & { readonly status: 'skipped'; readonly reason: SkipReason; readonly message: string });

export type RunStatus = 'succeeded' | 'failed' | 'interrupted';
