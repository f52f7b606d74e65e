import type { TextSink } from '../cli/io.js';
import type { RunEvent, RunObserver } from '../run/events.js';
import { formatDuration } from '../util/duration.js';
import { unreachable } from '../util/unreachable.js';
import { reasonText } from './format.js';

/**
 * One line per event: no colour, no cursor movement. The default when stdout is not a
 * terminal, in CI, and with NO_COLOR; logs stay readable and greppable.
 */
export class PlainReporter implements RunObserver {
  readonly #out: TextSink;
  /** Each fan-out stage's job count and the items retrying now. */
  readonly #fanOuts = new Map<string, { readonly jobs: number; readonly retrying: Set<number> }>();

  constructor(out: TextSink) {
    this.#out = out;
  }

  event(e: RunEvent): void {
    const line = this.#line(e);
    if (line !== undefined) this.#out.write(`${line}\n`);
  }

  /**
   * A wide fan-out stage is one counter, not lines per item (issue 5): its items' submissions
   * and new attempts are not printed (run.json and the json reporter have them), and its retry
   * and item lines carry the counter, retries included.
   */
  #line(e: RunEvent): string | undefined {
    switch (e.type) {
      case 'stage-start':
        if (e.jobs > 1) this.#fanOuts.set(e.stage, { jobs: e.jobs, retrying: new Set() });
        return plainLine(e);
      case 'stage-submitted':
      case 'stage-attempt':
      case 'stage-progress':
        return e.item !== null && (this.#fanOuts.get(e.stage)?.jobs ?? 0) > WIDE_FAN_OUT
          ? undefined
          : plainLine(e);
      case 'stage-retry': {
        const retrying = e.item === null ? undefined : this.#fanOuts.get(e.stage)?.retrying;
        retrying?.add(e.item!);
        return plainLine(e, retrying?.size);
      }
      case 'item-finished': {
        const retrying = this.#fanOuts.get(e.stage)?.retrying;
        retrying?.delete(e.item);
        return plainLine(e, retrying?.size);
      }
      default:
        return plainLine(e);
    }
  }
}

/** Above this many items, a fan-out stage's per-item lines give way to its counter. */
const WIDE_FAN_OUT = 8;

/** `, 2 retrying` for a counter, when some items are. */
function retryingText(retrying: number | undefined): string {
  return retrying ? `, ${retrying} retrying` : '';
}

/** `retrying`: how many items of the event's fan-out stage are retrying now, when known. */
export function plainLine(e: RunEvent, retrying?: number): string | undefined {
  const item = (i: number | null) => (i === null ? '' : `[${i}]`);
  switch (e.type) {
    case 'run-start':
      return `[run] ${e.recipe.name}: ${e.stages.length} stage${e.stages.length === 1 ? '' : 's'}, concurrency ${e.concurrency}${e.dryRun ? ' (dry run)' : ''}`;
    case 'stage-start':
      // 0 jobs: the input could not be resolved; the [fail] line that follows says why.
      return `[start] ${e.stage} ${e.model}${e.jobs <= 1 ? '' : ` (${e.jobs} jobs)`}`;
    case 'stage-attempt':
      return e.attempt === 1 && e.reattach === null
        ? undefined
        : `[attempt] ${e.stage}${item(e.item)} attempt ${e.attempt}${e.reattach ? ` (following job ${e.reattach})` : ''}`;
    case 'stage-submitted':
      return `[submit] ${e.stage}${item(e.item)} request ${e.requestId}`;
    case 'stage-progress':
      return `[${e.state === 'in_queue' ? 'queue' : 'progress'}] ${e.stage}${item(e.item)} ${e.state === 'in_queue' ? `queued${e.queuePosition === null ? '' : ` (position ${e.queuePosition})`}` : 'in progress'}`;
    case 'stage-retry':
      return `[retry] ${e.stage}${item(e.item)} attempt ${e.attempt} ${reasonText(e.reason)}${e.exitCode === null ? '' : ` (exit ${e.exitCode})`}: ${e.message}; retrying in ${formatDuration(e.delayMs)}${e.reattach ? ` (following job ${e.reattach})` : ''}${retrying ? ` (${retrying} item${retrying === 1 ? '' : 's'} retrying)` : ''}`;
    case 'item-finished':
      // A fan-out stage is one counter, not a line per item: failures, and each quarter done.
      if (
        e.ok &&
        e.total > WIDE_FAN_OUT &&
        Math.floor((e.done * 4) / e.total) === Math.floor(((e.done - 1) * 4) / e.total)
      )
        return undefined;
      return `[item] ${e.stage}[${e.item}] ${e.ok ? 'done' : 'failed'} (${e.done}/${e.total} done${e.failed > 0 ? `, ${e.failed} failed` : ''}${retryingText(retrying)})`;
    case 'stage-succeeded':
      return (
        `[${e.cached ? 'cached' : 'ok'}] ${e.stage} ${e.cached ? '' : `in ${formatDuration(e.durationMs)}, ${e.attempts} attempt${e.attempts === 1 ? '' : 's'}, `}${e.files.length} file${e.files.length === 1 ? '' : 's'}` +
        (e.warnings ?? []).map((w) => `\n[warn] ${e.stage} ${w}`).join('')
      );
    case 'stage-failed':
      return `[fail] ${e.stage} ${reasonText(e.reason)}${e.exitCode === null ? '' : ` (exit ${e.exitCode})`}: ${e.message}`;
    case 'stage-skipped':
      return `[skip] ${e.stage} ${e.message}`;
    case 'run-finished':
      return `[done] ${e.status}: ${e.counts.succeeded} succeeded, ${e.counts.cached} cached, ${e.counts.failed} failed, ${e.counts.skipped} skipped in ${formatDuration(e.durationMs)} (exit ${e.exitCode})`;
    default:
      return unreachable(e);
  }
}
