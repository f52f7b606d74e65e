import { makeDir } from '../util/make-dir.js';
import { appendFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { formatDuration } from '../util/duration.js';
import { unreachable } from '../util/unreachable.js';
import { reasonText } from './format.js';
import type { Env } from './github-commands.js';
import {
  paidJobs,
  paidOf,
  readRunData,
  rowStatus,
  stageDurationMs,
  type GraphNode,
  type RowStatus,
  type RunData,
  type RunStage,
} from './html/run-data.js';

export interface SummaryOptions {
  /** Links to output files are relative to this folder (where the Markdown is read from). */
  readonly linkBase: string;
  /** For a link to the workflow run (its artifacts) when GitHub's variables are set. */
  readonly env?: Env;
  /** Output links listed per stage at most (the rest are counted). Default 20. */
  readonly maxFilesPerStage?: number;
  /**
   * False when the run's contact sheet is not written (a process that exited at once): the
   * summary says how to make it instead of linking a file that is not there. Default true.
   */
  readonly contactSheet?: boolean;
}

/**
 * The job summary in GitHub-flavoured Markdown: a headline, a table of stages (status, model,
 * attempts, time, cached or paid), the failures with the client's message, the DAG as a
 * Mermaid flowchart coloured by status, and the output files as relative links.
 */
export function renderJobSummary(run: RunData, options: SummaryOptions): string {
  const r = run.record;
  const counts = countStatuses(run.stages);
  const duration = r.endedAt === null ? undefined : Date.parse(r.endedAt) - Date.parse(r.startedAt);
  const head: string[] = [];
  head.push(
    `### faceswap-pipe: ${md(r.recipe.name)} ${statusBadge(r.status === 'succeeded' || r.status === 'failed' ? r.status : 'not-run')} ${md(r.status)}`,
  );
  head.push('');
  const facts = [
    `recipe \`${r.recipe.file}\``,
    `${run.stages.length} stage${run.stages.length === 1 ? '' : 's'}: ${countText(counts)}`,
    `${paidOf(run.stages)} job${paidOf(run.stages) === 1 ? '' : 's'} paid`,
    ...(duration !== undefined && Number.isFinite(duration) ? [formatDuration(duration)] : []),
    ...(r.exitCode === null ? [] : [`exit ${r.exitCode}`]),
  ];
  head.push(facts.join(' · '));
  head.push('');
  head.push('| stage | status | model | attempts | time | cost |');
  head.push('| --- | --- | --- | ---: | ---: | --- |');

  const footer: string[] = [
    '',
    `Run record: ${link(relativeLink(join(run.runDir, 'run.json'), options.linkBase), relativeLink(join(run.runDir, 'run.json'), options.linkBase))} · contact sheet: ${
      options.contactSheet === false
        ? `not written (the run exited at once; \`faceswap-pipe report ${relativeLink(run.runDir, options.linkBase)}\` makes it)`
        : link('report.html', relativeLink(join(run.runDir, 'report.html'), options.linkBase))
    }`,
  ];
  const env = options.env ?? {};
  if (env['GITHUB_SERVER_URL'] && env['GITHUB_REPOSITORY'] && env['GITHUB_RUN_ID']) {
    const url = `${env['GITHUB_SERVER_URL']}/${env['GITHUB_REPOSITORY']}/actions/runs/${env['GITHUB_RUN_ID']}`;
    footer.push('', `The files are in this workflow run's artifacts: ${url}#artifacts`);
  }

  // GitHub drops a step summary over 1 MiB whole, so a large failing campaign (where the summary
  // matters most) would show none: the parts are added while they fit, each part that does not
  // saying what is left out and where to find it (the contact sheet, the JUnit report).
  const budget = new Budget(SUMMARY_BUDGET - bytes(head) - bytes(footer));
  const lines = [...head];
  const rows = run.stages.map((s) => {
    const ms = stageDurationMs(s.result);
    return `| ${cell(s.id)} | ${statusBadge(rowStatus(s))} ${cell(statusText(s))} | \`${cell(s.model)}\` | ${s.result ? s.result.attempts.length : '-'} | ${ms === undefined ? '-' : formatDuration(ms)} | ${cell(costText(s))} |`;
  });
  lines.push(
    ...budget.take(rows, (n) => `| … ${n} more stages: see the contact sheet | | | | | |`, MAX_TABLE_ROWS),
  );

  const failed = run.stages.filter((s) => s.result?.status === 'failed');
  if (failed.length > 0) {
    lines.push('', '#### Failures', '');
    lines.push(
      ...budget.take(
        failed.map((s) => failureEntry(s)),
        (n) =>
          `- … and ${n} more failed stage${n === 1 ? '' : 's'}: see the JUnit report or the contact sheet`,
      ),
    );
  }

  const graph = runMermaid(run.stages).trimEnd();
  const edges = run.stages.reduce((n, s) => n + s.needs.length, 0);
  lines.push('', '#### Graph', '');
  if (edges > MERMAID_MAX_EDGES || graph.length > MERMAID_MAX_TEXT)
    lines.push(
      `_The graph has ${run.stages.length} stages and ${edges} edges, more than GitHub's Mermaid draws (${MERMAID_MAX_EDGES} edges, ${MERMAID_MAX_TEXT.toLocaleString('en-US')} characters): see the contact sheet._`,
    );
  else
    lines.push(
      ...budget.take(
        [['```mermaid', graph, '```'].join('\n')],
        () => '_The graph is left out for size: see the contact sheet._',
      ),
    );
  if (run.graphSource === 'inferred')
    lines.push('', '_Dependencies inferred from the run record (stage outputs used as inputs)._');

  const withFiles = run.stages.filter(
    (s) => s.result && s.result.status !== 'skipped' && s.result.files.length > 0,
  );
  lines.push('', '#### Outputs', '');
  if (withFiles.length === 0) lines.push('No output files.');
  const max = options.maxFilesPerStage ?? 20;
  const outputs = withFiles.map((s) => {
    const files = s.result && s.result.status !== 'skipped' ? s.result.files : [];
    const shown = files
      .slice(0, max)
      .map((f) => link(f, relativeLink(join(run.outDir, f), options.linkBase)));
    const more = files.length > max ? `, … and ${files.length - max} more` : '';
    return `- **${md(s.id)}** (${files.length} file${files.length === 1 ? '' : 's'}): ${shown.join(', ')}${more}`;
  });
  lines.push(...budget.take(outputs, (n) => `- … and ${n} more stages with files: see the contact sheet`));
  lines.push(...footer);
  return lines.join('\n') + '\n';
}

/** GitHub's limit for one step's summary is 1 MiB (1,048,576 bytes); some room is left for others. */
const SUMMARY_BUDGET = 1_000_000;
/** Stage rows in the summary's table at most; the contact sheet has them all. */
const MAX_TABLE_ROWS = 1_000;
/** Per failure: the message and the stderr tail are cut to this many characters. */
const MAX_MESSAGE = 1_000;
const MAX_STDERR = 2_000;
/** Mermaid's defaults (maxEdges, maxTextSize): past them it draws an error instead. */
const MERMAID_MAX_EDGES = 500;
const MERMAID_MAX_TEXT = 50_000;

/** A failed stage's entry: its reason and message, and the client's stderr tail when it adds something. */
function failureEntry(s: RunStage): string {
  if (s.result?.status !== 'failed') return '';
  const f = s.result.failure;
  const message = cut(f.message, MAX_MESSAGE, 'start');
  const lines = [
    `- **${md(s.id)}**: ${md(reasonText(f.reason))}${f.exitCode === undefined ? '' : ` (exit ${f.exitCode})`}: ${md(message)}`,
  ];
  const tail = f.stderrTail?.trim();
  // The message often quotes the client's error already: the same text once is enough (as
  // shown: a message cut before it does not hold it).
  if (tail && !message.includes(tail))
    lines.push(
      `  <details><summary>stderr (last lines)</summary>`,
      '',
      fence(cut(tail, MAX_STDERR, 'end'), '  '),
      '',
      '  </details>',
    );
  return lines.join('\n');
}

/** `text` cut to `max` characters, keeping its start or its end (a tail's last lines matter). */
function cut(text: string, max: number, keep: 'start' | 'end'): string {
  if (text.length <= max) return text;
  return keep === 'start' ? `${text.slice(0, max)} …` : `… ${text.slice(-max)}`;
}

/** Bytes of lines joined as the summary joins them. */
function bytes(lines: readonly string[]): number {
  return Buffer.byteLength(lines.join('\n')) + 1;
}

/** What is left of the summary's size budget. */
class Budget {
  #left: number;

  constructor(size: number) {
    this.#left = size;
  }

  /**
   * The entries that fit (`limit` at most), in order, and then (when some do not) the line
   * `more(n)` says for the `n` left out. Room for that line is kept while taking.
   */
  take(entries: readonly string[], more: (n: number) => string, limit = Infinity): string[] {
    const out: string[] = [];
    const reserve = Buffer.byteLength(more(entries.length)) + 1;
    for (const [i, entry] of entries.entries()) {
      const size = Buffer.byteLength(entry) + 1;
      const last = i === entries.length - 1;
      if (i >= limit || size + (last ? 0 : reserve) > this.#left) {
        const line = more(entries.length - i);
        this.#left -= Buffer.byteLength(line) + 1;
        out.push(line);
        return out;
      }
      this.#left -= size;
      out.push(entry);
    }
    return out;
  }
}

/** The run's DAG as a Mermaid flowchart, each stage coloured by its status. */
export function runMermaid(stages: readonly RunStage[]): string {
  const list = stages.map((s) => ({ id: s.id, model: s.model, needs: s.needs, status: rowStatus(s) }));
  // Node ids by position: stage ids may collide with Mermaid's keywords (`end`, `class`, …).
  const node = new Map<string, string>(list.map((s, i) => [s.id, `s${i}`]));
  const lines = ['flowchart LR'];
  for (const s of list) {
    lines.push(
      `  ${node.get(s.id)!}["${mermaidText(s.id)}<br/><small>${mermaidText(s.model)}</small><br/>${mermaidText(statusWord(s.status))}"]`,
    );
  }
  for (const s of list)
    for (const d of s.needs) {
      const from = node.get(d);
      if (from !== undefined) lines.push(`  ${from} --> ${node.get(s.id)!}`);
    }
  const classes: Record<RowStatus, string> = {
    succeeded: 'fill:#dafbe1,stroke:#1a7f37,color:#0f5323',
    cached: 'fill:#ddf4ff,stroke:#0969da,color:#0a3069',
    failed: 'fill:#ffebe9,stroke:#cf222e,color:#82071e',
    skipped: 'fill:#f6f8fa,stroke:#8c959f,color:#57606a',
    'not-run': 'fill:#fff8c5,stroke:#9a6700,color:#633c01',
  };
  for (const [status, style] of Object.entries(classes) as [RowStatus, string][]) {
    const members = list.filter((s) => s.status === status).map((s) => node.get(s.id)!);
    if (members.length === 0) continue;
    const name = status.replace('-', '');
    lines.push(`  classDef ${name} ${style}`);
    lines.push(`  class ${members.join(',')} ${name}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes the job summary of a finished run: appended to `$GITHUB_STEP_SUMMARY` when the
 * variable is set (GitHub shows it on the run's page), and written to `file` when given
 * (`--summary FILE`, relative to `cwd`). Returns the paths written; none when neither is set.
 */
export async function writeJobSummary(
  runDir: string,
  options: {
    readonly file?: string;
    readonly env: Env;
    readonly cwd: string;
    readonly graph?: readonly GraphNode[];
    /** Append to `$GITHUB_STEP_SUMMARY` when it is set. Default true. */
    readonly appendStepSummary?: boolean;
    /**
     * Called for a target that cannot be written; the other targets are still written. Without
     * it the first such failure is thrown.
     */
    readonly onTargetError?: (target: SummaryTarget, cause: Error) => void;
  },
): Promise<string[]> {
  const targets = summaryTargets(options);
  if (targets.length === 0) return [];
  const run = await readRunData(runDir, { ...(options.graph && { graph: options.graph }) });
  const written: string[] = [];
  for (const t of targets) {
    const text = renderJobSummary(run, { linkBase: t.linkBase, env: options.env });
    try {
      await makeDir(dirname(t.path));
      if (t.append) await appendFile(t.path, text);
      else await writeFile(t.path, text);
      written.push(t.path);
    } catch (cause) {
      if (!options.onTargetError) throw cause;
      options.onTargetError(t, cause as Error);
    }
  }
  return written;
}

/** Where a job summary goes, and whether it is appended (GitHub's file) or written. */
export interface SummaryTarget {
  readonly path: string;
  readonly append: boolean;
  /** What links in the summary are relative to. */
  readonly linkBase: string;
}

/**
 * The files a job summary is written to: `$GITHUB_STEP_SUMMARY` (appended) and/or `--summary`
 * (written; appended once when it names GitHub's file).
 */
export function summaryTargets(options: {
  readonly file?: string;
  readonly env: Env;
  readonly cwd: string;
  readonly appendStepSummary?: boolean;
}): SummaryTarget[] {
  const targets: SummaryTarget[] = [];
  const step = options.env['GITHUB_STEP_SUMMARY'];
  const workspace = options.env['GITHUB_WORKSPACE'] || options.cwd;
  // The step summary is read on GitHub, where paths mean something relative to the checkout.
  if (step && options.appendStepSummary !== false)
    targets.push({ path: resolve(options.cwd, step), append: true, linkBase: workspace });
  if (options.file !== undefined) {
    const path = resolve(options.cwd, options.file);
    // `--summary "$GITHUB_STEP_SUMMARY"` names GitHub's file: append to it once, never overwrite.
    if (step && path === resolve(options.cwd, step)) {
      if (!targets.some((t) => t.path === path)) targets.push({ path, append: true, linkBase: workspace });
    } else targets.push({ path, append: false, linkBase: dirname(path) });
  }
  return targets;
}

export function statusWord(status: RowStatus): string {
  return status === 'not-run' ? 'not run' : status;
}

function statusText(s: RunStage): string {
  const r = s.result;
  if (!r) return 'not run';
  switch (r.status) {
    case 'succeeded':
    case 'cached':
      return r.status;
    case 'failed':
      return `failed: ${reasonText(r.failure.reason)}`;
    case 'skipped':
      return `skipped: ${r.reason}`;
    default:
      return unreachable(r);
  }
}

/** Cached, paid (jobs submitted in this run), or neither (a job followed from an earlier run). */
export function costText(s: RunStage): string {
  if (!s.result) return '-';
  if (s.result.status === 'cached') return 'cached';
  const paid = paidJobs(s.result);
  // The offline engine runs jobs on this machine: they cost nothing.
  if (paid > 0 && s.model.startsWith('local/'))
    return `offline: ${paid} job${paid === 1 ? '' : 's'}, no cost`;
  if (paid > 0) return `paid: ${paid} job${paid === 1 ? '' : 's'}`;
  return s.result.status === 'skipped' ? '-' : 'no new job';
}

function statusBadge(status: RowStatus): string {
  switch (status) {
    case 'succeeded':
      return '✅';
    case 'cached':
      return '♻️';
    case 'failed':
      return '❌';
    case 'skipped':
      return '⏭️';
    case 'not-run':
      return '⏸️';
    default:
      return unreachable(status);
  }
}

function countStatuses(stages: readonly RunStage[]): Record<RowStatus, number> {
  const counts: Record<RowStatus, number> = { succeeded: 0, cached: 0, failed: 0, skipped: 0, 'not-run': 0 };
  for (const s of stages) counts[rowStatus(s)]++;
  return counts;
}

export function countText(counts: Record<RowStatus, number>): string {
  const parts = (Object.entries(counts) as [RowStatus, number][])
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${statusWord(status)}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

/** A path from `base` to `target`, with `/`, for a Markdown or HTML link. */
export function relativeLink(target: string, base: string): string {
  return relative(base, target).split(sep).join('/');
}

function link(text: string, href: string): string {
  return `[${md(text)}](${encodeURI(href).replace(/\(/g, '%28').replace(/\)/g, '%29')})`;
}

/**
 * Text safe in Markdown prose: HTML's specials escaped (GitHub renders inline HTML), brackets
 * escaped (a service message must not make a link or a remote image), and every line break
 * (CommonMark counts a lone CR as one) a space, so text cannot end its list item or table row.
 */
function md(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\\[\]]/g, (c) => `\\${c}`)
    .replace(/\r\n|\r|\n/g, ' ');
}

/** Text safe in a table cell: no pipe, no line break. */
function cell(text: string): string {
  return md(text).replace(/\|/g, '\\|');
}

/**
 * A fenced code block around `text`: its fence longer than any run of backticks inside, so no
 * line of the text can close it.
 */
export function fence(text: string, indent = '', info = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  return [`${ticks}${info}`, ...text.split(/\r\n|\r|\n/), ticks].map((l) => `${indent}${l}`).join('\n');
}

function mermaidText(text: string): string {
  return text.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}
