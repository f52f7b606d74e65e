import type { FailureReason, JobStatus } from '../backends/backend.js';
import type { StageId } from '../recipe/types.js';
import type { JsonValue } from '../util/json.js';
import type { RunStatus, SkipReason } from './result.js';

/**
 * The run as a stream of typed events. The executor emits them and never draws; reporters
 * (TTY, plain, NDJSON, CI) only consume them. `--reporter json` prints each as one line: the
 * schema is `schemas/run-events.schema.json`, versioned by {@link EVENT_SCHEMA_VERSION}.
 * Times are ISO 8601 strings.
 */
export const EVENT_SCHEMA_VERSION = 1;

export type RunEvent =
  | {
      readonly type: 'run-start';
      readonly time: string;
      readonly schemaVersion: number;
      readonly runId: string;
      readonly recipe: { readonly name: string; readonly file: string; readonly hash: string };
      readonly stages: readonly {
        readonly id: StageId;
        readonly model: string;
        readonly needs: readonly StageId[];
        readonly calls: number | null;
      }[];
      readonly concurrency: number;
      readonly dryRun: boolean;
    }
  | {
      readonly type: 'stage-start';
      readonly time: string;
      readonly stage: StageId;
      readonly model: string;
      /** Jobs this stage runs: 1, or the number of foreach items. */
      readonly jobs: number;
    }
  | {
      readonly type: 'stage-attempt';
      readonly time: string;
      readonly stage: StageId;
      readonly item: number | null;
      readonly attempt: number;
      /** The job being re-attached to, or null for a new submission. */
      readonly reattach: string | null;
    }
  | {
      readonly type: 'stage-submitted';
      readonly time: string;
      readonly stage: StageId;
      readonly item: number | null;
      readonly attempt: number;
      readonly requestId: string;
    }
  | {
      readonly type: 'stage-progress';
      readonly time: string;
      readonly stage: StageId;
      readonly item: number | null;
      readonly state: JobStatus['state'];
      readonly queuePosition: number | null;
    }
  | {
      readonly type: 'stage-retry';
      readonly time: string;
      readonly stage: StageId;
      readonly item: number | null;
      /** The attempt that failed. */
      readonly attempt: number;
      readonly reason: FailureReason;
      readonly message: string;
      readonly exitCode: number | null;
      readonly delayMs: number;
      /** The next attempt follows this job instead of submitting again (null: new submission). */
      readonly reattach: string | null;
    }
  | {
      readonly type: 'item-finished';
      readonly time: string;
      readonly stage: StageId;
      readonly item: number;
      readonly ok: boolean;
      readonly done: number;
      readonly total: number;
      readonly failed: number;
    }
  | {
      readonly type: 'stage-succeeded';
      readonly time: string;
      readonly stage: StageId;
      readonly cached: boolean;
      readonly attempts: number;
      readonly durationMs: number;
      readonly outputs: JsonValue;
      readonly files: readonly string[];
      /** What the user should know that did not fail the stage (output URLs not downloaded). */
      readonly warnings?: readonly string[];
    }
  | {
      readonly type: 'stage-failed';
      readonly time: string;
      readonly stage: StageId;
      readonly reason: FailureReason;
      readonly message: string;
      readonly attempts: number;
      readonly durationMs: number;
      readonly exitCode: number | null;
      readonly stderrTail: string | null;
    }
  | {
      readonly type: 'stage-skipped';
      readonly time: string;
      readonly stage: StageId;
      readonly reason: SkipReason;
      readonly message: string;
    }
  | {
      readonly type: 'run-finished';
      readonly time: string;
      readonly status: RunStatus;
      readonly exitCode: number;
      readonly counts: {
        readonly succeeded: number;
        readonly cached: number;
        readonly failed: number;
        readonly skipped: number;
      };
      readonly calls: number;
      readonly durationMs: number;
      readonly record: string | null;
    };

export type RunEventType = RunEvent['type'];

/** Something that consumes events: a reporter, a log. */
export interface RunObserver {
  event(event: RunEvent): void;
  /** Called once after `run-finished`; reporters flush here. */
  close?(): Promise<void> | void;
  /** A message for the user now (a signal received), where the reporter shows it. */
  notice?(text: string): void;
  /** The process exits at once (a second Ctrl-C): leave the terminal as it was, synchronously. */
  abandon?(): void;
}
