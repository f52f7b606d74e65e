import { makeDir } from '../util/make-dir.js';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { create } from 'xmlbuilder2';
import type { AttemptRecord } from '../run/result.js';
import { unreachable } from '../util/unreachable.js';
import { reasonText } from './format.js';
import { costText } from './summary-md.js';
import {
  fanOutItems,
  readRunData,
  type FanOutItem,
  type GraphNode,
  type RecordedStage,
  type RunData,
  type RunStage,
} from './html/run-data.js';

/**
 * `--junit FILE`: the run as a JUnit XML report, which GitLab, Jenkins, Buildkite and the
 * GitHub test-report actions read. It follows the Jenkins xunit plugin's `junit-10.xsd`
 * (checked by `junit-schema.ts`):
 *
 * - one `<testsuite>` per run, named after the recipe, inside `<testsuites>`;
 * - one `<testcase>` per stage, `classname` = recipe name; a fan-out stage (foreach or a
 *   chunked batch) has one test case per item, named `stage[i]`;
 * - a failed stage or item carries `<failure message type>` with the client's message and the
 *   stderr tail as text; earlier failed attempts are `<rerunFailure>` (Surefire's convention),
 *   and the failed attempts of a stage that then succeeded are `<flakyFailure>`;
 * - skipped stages, and stages the run never reached, are `<skipped message>`;
 * - `<system-out>` says what ran: model, attempts, request ids, cached or paid, files.
 *
 * Times are seconds. Text is cleaned of characters XML 1.0 cannot carry (ANSI colour codes,
 * NUL, other C0 controls), since a client's stderr may contain them.
 */
export function renderJunit(run: RunData): string {
  const r = run.record;
  const cases = run.stages.flatMap((s) => testCases(s));
  const failures = cases.filter((c) => c.kind === 'failed').length;
  const errors = cases.filter((c) => c.kind === 'error').length;
  const skipped = cases.filter((c) => c.kind === 'skipped').length;
  const totalSeconds = seconds(
    r.endedAt === null
      ? cases.reduce((t, c) => t + c.ms, 0)
      : Date.parse(r.endedAt) - Date.parse(r.startedAt),
  );
  const root = create({ version: '1.0', encoding: 'UTF-8' }).ele('testsuites', {
    name: clean(`faceswap-pipe ${r.recipe.name}`),
    tests: String(cases.length),
    failures: String(failures),
    errors: String(errors),
    time: totalSeconds,
  });
  const suite = root.ele('testsuite', {
    name: clean(r.recipe.name),
    tests: String(cases.length),
    failures: String(failures),
    errors: String(errors),
    skipped: String(skipped),
    time: totalSeconds,
    timestamp: r.startedAt.replace(/\.\d+Z$|Z$/, ''),
    id: clean(r.runId),
    file: clean(r.recipe.file),
  });
  const props = suite.ele('properties');
  const properties: [string, string][] = [
    ['recipe.file', r.recipe.file],
    ['recipe.hash', r.recipe.hash],
    ['run.id', r.runId],
    ['run.status', r.status],
    ['run.exitCode', r.exitCode === null ? '' : String(r.exitCode)],
    ['run.submissions', String(r.submissions)],
    ['faceswap-pipe.version', r.faceswapPipe],
    ['runcomfy.version', r.runcomfy ?? ''],
  ];
  for (const [name, value] of properties) props.ele('property', { name, value: clean(value) });
  for (const c of cases) writeCase(suite, r.recipe.name, c);
  return root.end({ prettyPrint: true }) + '\n';
}

/**
 * Parses XML into a DOM (xmlbuilder2's, which is lenient: check well-formedness first, as
 * `junit-schema.ts` does). Here so that xmlbuilder2 is imported by this module only.
 */
/**
 * The JUnit report of a run that never started because its recipe was refused: one failed
 * test case, `validate`, with every diagnostic, so a CI job's test report shows why.
 */
export function renderRefusedJunit(
  recipeFile: string,
  exitCode: number,
  diagnostics: string,
  count: number,
  /** What was refused: the recipe (validation) or the run (its state, the client, the lock). */
  what: 'recipe' | 'run' = 'recipe',
): string {
  const root = create({ version: '1.0', encoding: 'UTF-8' }).ele('testsuites', {
    name: clean(`faceswap-pipe ${recipeFile}`),
    tests: '1',
    failures: '1',
    errors: '0',
    time: '0.000',
  });
  const suite = root.ele('testsuite', {
    name: clean(recipeFile),
    tests: '1',
    failures: '1',
    errors: '0',
    skipped: '0',
    time: '0.000',
    timestamp: new Date().toISOString().replace(/\.\d+Z$|Z$/, ''),
  });
  suite
    .ele('testcase', {
      name: what === 'recipe' ? 'validate' : 'run',
      classname: clean(recipeFile),
      time: '0.000',
    })
    .ele('failure', {
      message: clean(`the ${what} was refused (exit ${exitCode}): ${count} problem${count === 1 ? '' : 's'}`),
      type: what === 'recipe' ? 'invalid-recipe' : 'run-refused',
    })
    .txt(clean(diagnostics));
  return root.end({ prettyPrint: true }) + '\n';
}

export function parseXml(xml: string): unknown {
  return create(xml).root().node;
}

/** Reads the run record and writes its JUnit report to `file` (relative to `cwd`); returns the path. */
export async function writeJunitReport(
  runDir: string,
  options: { readonly file: string; readonly cwd: string; readonly graph?: readonly GraphNode[] },
): Promise<string> {
  const run = await readRunData(runDir, { ...(options.graph && { graph: options.graph }) });
  const path = resolve(options.cwd, options.file);
  await makeDir(dirname(path));
  await writeFile(path, renderJunit(run));
  return path;
}

type XMLBuilder = ReturnType<typeof create>;

interface TestCase {
  readonly name: string;
  /** `error`: the run was interrupted (Ctrl-C, a cancelled CI job) before it could finish. */
  readonly kind: 'passed' | 'failed' | 'error' | 'skipped';
  readonly ms: number;
  readonly message: string;
  readonly type: string;
  readonly detail: string;
  /** Failed attempts before the last one. */
  readonly earlier: readonly AttemptRecord[];
  readonly out: string;
}

function testCases(stage: RunStage): TestCase[] {
  const result = stage.result;
  if (!result) {
    return [
      {
        name: stage.id,
        kind: 'skipped',
        ms: 0,
        message: 'not run: the run ended before this stage finished',
        type: 'not-run',
        detail: '',
        earlier: [],
        out: `model: ${stage.model}\n`,
      },
    ];
  }
  const items = result.status === 'skipped' ? undefined : fanOutItems(result);
  if (items && items.length > 0) return items.map((item) => itemCase(stage, result, item));
  return [stageCase(stage, result)];
}

function stageCase(stage: RunStage, result: RecordedStage): TestCase {
  const out = describe(stage, result, result.attempts);
  const ms = Math.max(0, result.endedAt - result.startedAt);
  switch (result.status) {
    case 'succeeded':
    case 'cached':
      return {
        name: stage.id,
        kind: 'passed',
        ms,
        message: '',
        type: '',
        detail: '',
        earlier: failedAttempts(result.attempts),
        out,
      };
    case 'failed': {
      const f = result.failure;
      const earlier = failedAttempts(result.attempts).slice(0, -1);
      return {
        name: stage.id,
        kind: f.reason === 'interrupted' ? 'error' : 'failed',
        ms,
        message: `${reasonText(f.reason)}${f.exitCode === undefined ? '' : ` (exit ${f.exitCode})`}: ${f.message}`,
        type: f.reason,
        detail: f.stderrTail ?? '',
        earlier,
        out,
      };
    }
    case 'skipped':
      return {
        name: stage.id,
        kind: 'skipped',
        ms: 0,
        message: result.message,
        type: result.reason,
        detail: '',
        earlier: [],
        out,
      };
    default:
      return unreachable(result);
  }
}

function itemCase(stage: RunStage, result: RecordedStage, item: FanOutItem): TestCase {
  const name = `${stage.id}[${item.item}]`;
  const ms = item.attempts.reduce((t, a) => t + Math.max(0, a.endedAt - a.startedAt), 0);
  const paid = new Set(
    item.attempts.filter((a) => a.requestId !== null && !a.reattached).map((a) => a.requestId),
  ).size;
  const jobs = `${paid} job${paid === 1 ? '' : 's'}`;
  const cost =
    result.status === 'cached'
      ? 'cached'
      : paid === 0
        ? 'no new job'
        : stage.model.startsWith('local/')
          ? `offline: ${jobs}, no cost`
          : `paid: ${jobs}`;
  // The item's own outcome: a stage with one failed item still has items that succeeded.
  const status =
    item.outcome === 'failed'
      ? 'failed'
      : item.outcome === 'unknown'
        ? 'not finished'
        : item.outcome === 'cached' || result.status === 'cached'
          ? 'cached'
          : 'succeeded';
  const out = describe(stage, result, item.attempts, item.files, cost, status);
  const failed = failedAttempts(item.attempts);
  if (item.outcome === 'failed') {
    const last = item.lastFailure;
    const message = last?.message ?? (result.status === 'failed' ? result.failure.message : 'failed');
    const reason = last?.reason ?? (result.status === 'failed' ? result.failure.reason : 'job-failed');
    return {
      name,
      kind: reason === 'interrupted' ? 'error' : 'failed',
      ms,
      message: `${reasonText(reason)}${last?.exitCode === undefined ? '' : ` (exit ${last.exitCode})`}: ${message}`,
      type: reason,
      detail: last?.stderrTail ?? '',
      earlier: failed.slice(0, -1),
      out,
    };
  }
  if (item.outcome === 'unknown')
    return {
      name,
      kind: 'skipped',
      ms,
      message: 'this item did not finish',
      type: 'not-run',
      detail: '',
      earlier: [],
      out,
    };
  return { name, kind: 'passed', ms, message: '', type: '', detail: '', earlier: failed, out };
}

function writeCase(suite: XMLBuilder, classname: string, c: TestCase): void {
  const tc = suite.ele('testcase', { name: clean(c.name), classname: clean(classname), time: seconds(c.ms) });
  switch (c.kind) {
    case 'passed':
      for (const a of c.earlier) attemptElement(tc, 'flakyFailure', a);
      break;
    case 'failed':
    case 'error': {
      // A stage the run was interrupted in did not fail: junit's <error>, not a red test failure.
      // The text repeats the message before the client's stderr: GitLab shows only an
      // element's text when it has one (and a dump of the attributes when it has none).
      tc.ele(c.kind === 'error' ? 'error' : 'failure', {
        message: attr(c.message),
        type: clean(c.type),
      }).txt(clean(c.detail === '' ? c.message : `${c.message}\n\n${c.detail}`));
      for (const a of c.earlier) attemptElement(tc, 'rerunFailure', a);
      break;
    }
    case 'skipped':
      tc.ele('skipped', { message: attr(c.message), type: clean(c.type) }).txt(clean(c.message));
      break;
    default:
      unreachable(c.kind);
  }
  tc.ele('system-out').txt(clean(c.out));
}

/** An earlier failed attempt (junit-10's rerunType: `type` required, message, stderr as system-err). */
function attemptElement(tc: XMLBuilder, name: 'flakyFailure' | 'rerunFailure', a: AttemptRecord): void {
  const el = tc.ele(name, {
    message: attr(
      `attempt ${a.attempt}: ${a.reason ? reasonText(a.reason) : 'failed'}${a.exitCode === undefined ? '' : ` (exit ${a.exitCode})`}: ${a.message ?? ''}`,
    ),
    type: clean(a.reason ?? 'failed'),
  });
  if (a.stderrTail) el.ele('system-err').txt(clean(a.stderrTail));
}

function describe(
  stage: RunStage,
  result: RecordedStage,
  attempts: readonly AttemptRecord[],
  files?: readonly string[],
  cost: string = costText(stage),
  status: string = result.status,
): string {
  const lines = [`model: ${stage.model}`, `status: ${status}`, `cost: ${cost}`];
  for (const a of attempts) {
    lines.push(
      `attempt ${a.attempt}${a.item === null ? '' : ` item ${a.item}`}: ${a.outcome}${a.reason ? ` (${a.reason})` : ''}${a.requestId ? `, request ${a.requestId}${a.reattached ? ' (followed)' : ''}` : ''}, ${seconds(a.endedAt - a.startedAt)}s`,
    );
  }
  const list = files ?? (result.status === 'skipped' ? [] : result.files);
  for (const f of list) lines.push(`file: ${f}`);
  return lines.join('\n') + '\n';
}

function failedAttempts(attempts: readonly AttemptRecord[]): AttemptRecord[] {
  return attempts.filter((a) => a.outcome === 'failed');
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

/**
 * Text XML 1.0 can carry: ANSI escape sequences removed, other characters outside the `Char`
 * production (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF) replaced by U+FFFD.
 */
export function clean(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex -- removing terminal escapes is the point
      .replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '')
      // eslint-disable-next-line no-control-regex -- as above
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
  );
}

/** An attribute value: cleaned, on one line (parsers fold line breaks in attributes to spaces anyway). */
function attr(text: string): string {
  return clean(text).replace(/\r?\n/g, ' ');
}
