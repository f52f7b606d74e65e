import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { Listr, PRESET_TIMER, type ListrTaskWrapper } from 'listr2';
import type { RunEvent, RunObserver } from '../run/events.js';
import type { StageId } from '../recipe/types.js';
import { reasonText } from './format.js';

interface StageView {
  resolve: () => void;
  reject: (error: Error) => void;
  task?: ListrTaskWrapper<unknown, never, never>;
  model: string;
  attempt: number;
  lastRetry?: string;
  jobs: number;
  done: number;
  failed: number;
  retrying: Set<number>;
  state?: string;
  finished: boolean;
  pendingSkip?: string;
  /** A result that arrived before listr2 started the task (a cached stage, say). */
  pendingSettle?: () => void;
}

/**
 * The terminal view: one listr2 line per stage with status, model, elapsed time, attempt and
 * the reason of the last retry; a fan-out stage is one line with a counter. listr2 only draws:
 * it never schedules, and its own SIGINT handling is off because the runner owns signals.
 */
export class TtyReporter implements RunObserver {
  readonly #stages = new Map<StageId, StageView>();
  #listr: Promise<unknown> | undefined;
  #notice: string | undefined;

  event(e: RunEvent): void {
    switch (e.type) {
      case 'run-start':
        this.#start(e.stages.map((s) => ({ id: s.id, model: s.model })));
        return;
      case 'stage-start': {
        const view = this.#stages.get(e.stage);
        if (view) {
          view.jobs = e.jobs;
          // Ready, and waiting for a --concurrency slot until its first attempt starts.
          view.state = 'waiting';
          this.#title(e.stage);
        }
        return;
      }
      case 'stage-attempt': {
        const view = this.#stages.get(e.stage);
        if (view) {
          if (view.state === 'waiting') view.state = undefined;
          view.attempt = Math.max(view.attempt, e.attempt);
          if (e.item !== null) view.retrying.delete(e.item);
          this.#title(e.stage);
        }
        return;
      }
      case 'stage-submitted':
        return;
      case 'stage-progress': {
        const view = this.#stages.get(e.stage);
        if (view && view.jobs <= 1) {
          view.state =
            e.state === 'in_queue'
              ? `queued${e.queuePosition === null ? '' : ` #${e.queuePosition}`}`
              : 'running';
          this.#title(e.stage);
        }
        return;
      }
      case 'stage-retry': {
        const view = this.#stages.get(e.stage);
        if (view) {
          view.lastRetry = reasonText(e.reason);
          if (e.item !== null) view.retrying.add(e.item);
          this.#title(e.stage);
        }
        return;
      }
      case 'item-finished': {
        const view = this.#stages.get(e.stage);
        if (view) {
          view.done = e.done;
          view.failed = e.failed;
          view.retrying.delete(e.item);
          this.#title(e.stage);
        }
        return;
      }
      case 'stage-succeeded': {
        const warned = e.warnings?.length ? `warning: ${e.warnings.join('; ')}` : undefined;
        const note = [e.cached ? 'cached' : undefined, warned].filter((n) => n !== undefined).join(', ');
        this.#finish(e.stage, () => this.#stages.get(e.stage)?.resolve(), note || undefined);
        return;
      }
      case 'stage-failed':
        this.#finish(e.stage, () =>
          this.#stages.get(e.stage)?.reject(new Error(`${reasonText(e.reason)}: ${e.message}`)),
        );
        return;
      case 'stage-skipped': {
        const view = this.#stages.get(e.stage);
        if (!view) return;
        if (view.task) {
          view.task.skip(`${e.stage}: skipped (${e.message})`);
          this.#finish(e.stage, () => view.resolve());
        } else {
          view.pendingSkip = e.message;
        }
        return;
      }
      case 'run-finished':
        return;
    }
  }

  async close(): Promise<void> {
    await this.#listr?.catch(() => undefined);
  }

  /**
   * listr2 holds stderr back while it draws, so a message written there shows only once the
   * run ends: it goes on every unfinished stage's line instead.
   */
  notice(text: string): void {
    this.#notice = text;
    for (const id of this.#stages.keys()) this.#title(id);
  }

  /** listr2 hides the cursor while it draws; a process that exits mid-draw shows it again. */
  abandon(): void {
    for (const fd of [1, 2]) {
      try {
        if (isatty(fd)) writeSync(fd, '\u001b[?25h\n');
      } catch {
        // the terminal is gone
      }
    }
  }

  #start(stages: readonly { id: StageId; model: string }[]): void {
    const tasks = stages.map(({ id, model }) => ({
      title: `${id}  ${model}`,
      task: (_ctx: unknown, task: ListrTaskWrapper<unknown, never, never>) =>
        new Promise<void>((resolve, reject) => {
          const view = this.#stages.get(id)!;
          view.task = task;
          view.resolve = resolve;
          view.reject = reject;
          if (view.pendingSkip !== undefined) {
            task.skip(`${id}: skipped (${view.pendingSkip})`);
            view.finished = true;
            resolve();
          } else if (view.pendingSettle) {
            view.pendingSettle();
          }
        }),
    }));
    for (const { id, model } of stages) {
      this.#stages.set(id, {
        resolve: () => undefined,
        reject: () => undefined,
        model,
        attempt: 0,
        jobs: 1,
        done: 0,
        failed: 0,
        retrying: new Set(),
        finished: false,
      });
    }
    const listr = new Listr(tasks as never, {
      concurrent: true,
      exitOnError: false,
      registerSignalListeners: false,
      rendererOptions: { timer: PRESET_TIMER, collapseErrors: false, showErrorMessage: true },
    });
    this.#listr = listr.run();
  }

  #title(id: StageId): void {
    const view = this.#stages.get(id);
    if (!view?.task || view.finished) return;
    const parts = [`${id}  ${view.model}`];
    if (view.jobs > 1) {
      const retrying = view.retrying.size > 0 ? `, ${view.retrying.size} retrying` : '';
      const failed = view.failed > 0 ? `, ${view.failed} failed` : '';
      parts.push(`${view.done}/${view.jobs} done${failed}${retrying}`);
    } else if (view.state) parts.push(view.state);
    if (view.attempt > 1) parts.push(`attempt ${view.attempt}`);
    if (view.lastRetry) parts.push(`last retry: ${view.lastRetry}`);
    if (this.#notice !== undefined) parts.push(`(${this.#notice})`);
    view.task.title = parts.join('  ');
  }

  #finish(id: StageId, settle: () => void, note?: string): void {
    const view = this.#stages.get(id);
    if (!view || view.finished) return;
    view.finished = true;
    if (!view.task) {
      view.pendingSettle = () => {
        if (note && view.task) view.task.title = `${id}  ${view.model}  ${note}`;
        settle();
      };
      return;
    }
    if (note) view.task.title = `${id}  ${view.model}  ${note}`;
    settle();
  }
}
