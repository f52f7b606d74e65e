import type { TextSink } from '../cli/io.js';
import type { Recipe } from '../recipe/types.js';
import type { RunEvent, RunObserver } from '../run/events.js';
import { formatDuration } from '../util/duration.js';
import { unreachable } from '../util/unreachable.js';
import { reasonText } from './format.js';
import {
  addMask,
  isGithubActions,
  annotation,
  GROUP_END,
  groupStart,
  locationProperties,
  plainLogText,
  type AnnotationProperties,
  type Env,
} from './github-commands.js';
import { plainLine } from './plain-reporter.js';

export interface GithubReporterOptions {
  /** The CLI's environment: `RUNCOMFY_TOKEN` is masked from the first line on. */
  readonly env: Env;
  /**
   * Where each stage is defined in the recipe (see {@link stageLocations}), so failure and
   * retry annotations sit on the stage's line. Without it they carry no file.
   */
  readonly stageLocations?: ReadonlyMap<string, AnnotationProperties>;
  /**
   * Retry warnings annotated at most; later retries are plain lines. GitHub shows 10 warning
   * annotations per step, so more would only hide the failures. Default 10.
   */
  readonly maxRetryWarnings?: number;
}

/**
 * `--reporter github`, and the default when `GITHUB_ACTIONS=true`: the plain reporter's lines,
 * arranged for the Actions log.
 *
 * Grouping. Stages run in parallel, so their events arrive interleaved, while a `::group::`
 * must be contiguous. Each stage's lines are therefore buffered and printed as one collapsed
 * group when the stage finishes (titled with its `[ok]`/`[fail]` line); meanwhile the log
 * streams one line per stage start, fan-out progress at each quarter, and each retry, so a
 * long run is visibly alive. Stages still open when the run ends (interrupted) are flushed
 * as groups too. Skipped stages are single lines, not groups.
 *
 * Annotations. A failed stage gets an `::error` on its line in the recipe with the client's
 * message and the tail of its stderr; each retry a `::warning` (up to `maxRetryWarnings`).
 * `::add-mask::` for the token is the very first line, so the runner masks it even if a
 * child process ever echoed it. Only on GitHub Actions (`GITHUB_ACTIONS=true`): anywhere else
 * (`--reporter github` in another CI or a shell) nothing hides that line, and it would print
 * the token in clear.
 */
export class GithubReporter implements RunObserver {
  readonly #out: TextSink;
  readonly #locations: ReadonlyMap<string, AnnotationProperties>;
  readonly #maxRetryWarnings: number;
  /** Buffered lines of stages that started and have not finished, in start order. */
  readonly #open = new Map<string, string[]>();
  /** Jobs per stage (more than one: a fan-out), from stage-start. */
  readonly #jobs = new Map<string, number>();
  readonly #finished = new Set<string>();
  readonly #quarter = new Map<string, number>();
  #retryWarnings = 0;

  constructor(out: TextSink, options: GithubReporterOptions) {
    this.#out = out;
    this.#locations = options.stageLocations ?? new Map();
    this.#maxRetryWarnings = options.maxRetryWarnings ?? 10;
    if (isGithubActions(options.env))
      for (const line of addMask(options.env['RUNCOMFY_TOKEN'])) this.#command(line);
  }

  event(e: RunEvent): void {
    const line = plainLine(e);
    switch (e.type) {
      case 'run-start':
        if (line !== undefined) this.#write(line);
        return;
      case 'stage-start':
        this.#jobs.set(e.stage, e.jobs);
        this.#open.set(e.stage, line === undefined ? [] : [line]);
        if (line !== undefined) this.#write(line);
        return;
      case 'stage-attempt':
      case 'stage-submitted':
      case 'stage-progress':
        this.#buffer(e.stage, line);
        return;
      case 'item-finished': {
        this.#buffer(e.stage, line);
        // Stream fan-out progress at each quarter done, so a 200-item stage is not silent.
        const quarter = Math.floor((4 * e.done) / e.total);
        if (quarter > (this.#quarter.get(e.stage) ?? 0) && e.done < e.total) {
          this.#quarter.set(e.stage, quarter);
          this.#write(
            `[progress] ${e.stage} ${e.done}/${e.total} items done${e.failed > 0 ? `, ${e.failed} failed` : ''}`,
          );
        }
        return;
      }
      case 'stage-retry': {
        this.#buffer(e.stage, line);
        if (this.#retryWarnings < this.#maxRetryWarnings) {
          this.#retryWarnings++;
          const item = e.item === null ? '' : `[${e.item}]`;
          this.#command(
            annotation(
              'warning',
              `${e.message}${e.exitCode === null ? '' : ` (exit ${e.exitCode})`}; retrying in ${formatDuration(e.delayMs)}`,
              {
                ...this.#locations.get(e.stage),
                title: `Retry: ${e.stage}${item} attempt ${e.attempt} ${reasonText(e.reason)}`,
              },
            ),
          );
        } else if (line !== undefined) {
          this.#write(line);
        }
        return;
      }
      case 'stage-succeeded':
        this.#buffer(e.stage, line);
        this.#flush(e.stage, line ?? e.stage);
        for (const warning of e.warnings ?? [])
          this.#command(
            annotation('warning', warning, { ...this.#locations.get(e.stage), title: `Stage ${e.stage}` }),
          );
        return;
      case 'stage-failed': {
        const tail = stderrLines(e.stderrTail);
        this.#buffer(e.stage, line);
        for (const t of tail) this.#buffer(e.stage, `  stderr: ${t}`);
        this.#flush(e.stage, line ?? e.stage);
        const message = `${e.message}${e.exitCode === null ? '' : ` (exit ${e.exitCode})`}${tail.length > 0 ? `\n\nstderr (last lines):\n${tail.slice(-5).join('\n')}` : ''}`;
        this.#command(
          annotation('error', message, {
            ...this.#locations.get(e.stage),
            title: `Stage ${e.stage} failed: ${reasonText(e.reason)} ${attemptsText(e.attempts, this.#jobs.get(e.stage) ?? 1)}`,
          }),
        );
        return;
      }
      case 'stage-skipped':
        if (this.#open.has(e.stage)) {
          this.#buffer(e.stage, line);
          this.#flush(e.stage, line ?? e.stage);
        } else if (line !== undefined) {
          this.#write(line);
        }
        return;
      case 'run-finished':
        this.#flushAll();
        if (line !== undefined) this.#write(line);
        return;
      default:
        return unreachable(e);
    }
  }

  close(): void {
    this.#flushAll();
  }

  #buffer(stage: string, line: string | undefined): void {
    if (line === undefined) return;
    const lines = this.#open.get(stage);
    // A line for a stage whose group is printed already (or that never started) goes out as is.
    if (lines) lines.push(line);
    else this.#write(line);
  }

  #flush(stage: string, title: string): void {
    const lines = this.#open.get(stage);
    this.#open.delete(stage);
    this.#finished.add(stage);
    if (!lines) return;
    this.#command(groupStart(title));
    for (const l of lines) this.#write(l);
    this.#command(GROUP_END);
  }

  #flushAll(): void {
    for (const stage of [...this.#open.keys()]) this.#flush(stage, `[unfinished] ${stage}`);
  }

  /** A workflow command line, built by github-commands.ts (escaped there). */
  #command(line: string): void {
    this.#out.write(`${line}\n`);
  }

  /**
   * Plain text. A message may hold line breaks (CR alone included) and text the runner would
   * read as a command: only ours may be commands ({@link plainLogText}).
   */
  #write(text: string): void {
    this.#out.write(`${plainLogText(text)}\n`);
  }
}

/** The annotation place of each stage: the stage's key under `stages:` in the recipe. */
export function stageLocations(
  recipe: Recipe,
  context: { readonly cwd: string; readonly env: Env },
): Map<string, AnnotationProperties> {
  const out = new Map<string, AnnotationProperties>();
  for (const id of recipe.stages.keys()) {
    const range = recipe.index.keyRange(['stages', id]);
    out.set(id, locationProperties({ file: recipe.source, ...(range && { range }) }, context));
  }
  return out;
}

function stderrLines(tail: string | null): string[] {
  if (tail === null) return [];
  return tail
    .split(/\r\n|\r|\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
}

/** `after 2 attempts`, or for a fan-out `(3 items, 4 attempts)`: attempts are counted over all items. */
function attemptsText(attempts: number, jobs: number): string {
  const counted = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
  return jobs > 1 ? `(${jobs} items, ${counted})` : `after ${counted}`;
}
