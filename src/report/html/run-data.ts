import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize, resolve } from 'node:path';
import type { Plan } from '../../plan/plan.js';
import type { AttemptRecord, RunStatus, StageResult } from '../../run/result.js';
import type { StageId } from '../../recipe/types.js';
import type { JsonValue } from '../../util/json.js';
import { isJsonObject } from '../../util/json.js';

/**
 * The reading side of `src/state/run-record.ts`: a run folder's `run.json` as typed data that
 * the CI outputs (job summary, JUnit) and the contact sheet render. Everything here is read
 * from the record, so `faceswap-pipe report` rebuilds the same views long after the run.
 */

/** One stage of the dependency graph, as the `run-start` event and the plan describe it. */
export interface GraphNode {
  readonly id: string;
  readonly model: string;
  readonly needs: readonly string[];
  /** The consent subjects the stage names, as `id (release)`; absent when not known. */
  readonly subjects?: readonly string[];
  /** The recipe's disclosure label, for stages that name subjects. */
  readonly disclosure?: string;
}

/**
 * The graph of a plan, with each stage's consent subjects (and their release references) and
 * the recipe's disclosure label: what `writeRunReport`, `writeJobSummary` and
 * `writeJunitReport` take as `graph` at the end of a run.
 */
export function graphOf(plan: Plan): GraphNode[] {
  const consent = isJsonObject(plan.recipe.consent ?? null)
    ? (plan.recipe.consent as Record<string, JsonValue>)
    : {};
  const people = isJsonObject(consent['subjects'] ?? null)
    ? (consent['subjects'] as Record<string, JsonValue>)
    : {};
  const disclosure = consent['disclosure'];
  const label =
    isJsonObject(disclosure ?? null) && typeof (disclosure as Record<string, JsonValue>)['label'] === 'string'
      ? ((disclosure as Record<string, JsonValue>)['label'] as string)
      : undefined;
  return plan.stages.map((s): GraphNode => {
    const names = plan.recipe.stages.get(s.id)?.subjects ?? [];
    const subjects = names.map((name) => {
      const person = people[name];
      const release = isJsonObject(person ?? null)
        ? (person as Record<string, JsonValue>)['release']
        : undefined;
      return typeof release === 'string' ? `${name} (${release})` : name;
    });
    return {
      id: s.id,
      model: s.model,
      needs: s.dependsOn,
      ...(subjects.length > 0 && { subjects }),
      ...(subjects.length > 0 && label !== undefined && { disclosure: label }),
    };
  });
}

/**
 * Where the graph came from. `given`: the caller passed the plan's graph (the exact one);
 * `record`: the run record's stages carry `needs`; `inferred`: rebuilt from the record alone by
 * finding one stage's output URLs or files in another stage's input (explicit `needs:` without
 * a data reference cannot be seen that way, and the page says the graph is inferred).
 */
export type GraphSource = 'given' | 'record' | 'inferred';

/** A stage's result as the record keeps it: the StageResult union, plus `needs` when recorded. */
export type RecordedStage = StageResult & { readonly needs?: readonly string[] };

/** What the record says about a run, typed (the `snapshot()` of run-record.ts). */
export interface RunRecordFile {
  readonly schemaVersion: number;
  readonly runId: string;
  readonly faceswapPipe: string;
  readonly runcomfy: string | null;
  readonly recipe: { readonly name: string; readonly file: string; readonly hash: string };
  readonly options: Readonly<Record<string, unknown>>;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly status: RunStatus | 'running';
  readonly exitCode: number | null;
  readonly submissions: number;
  readonly inFlight: readonly {
    readonly stage: string;
    readonly item: number | null;
    readonly attempt: number;
    readonly requestId: string;
  }[];
  readonly stages: Readonly<Record<string, RecordedStage>>;
}

/** A stage row: every stage of the graph, with its result when the record has one. */
export interface RunStage {
  readonly id: StageId;
  readonly model: string;
  readonly needs: readonly string[];
  /** From the plan's graph when given (see {@link graphOf}). */
  readonly subjects: readonly string[];
  readonly disclosure: string | undefined;
  /** Absent when the run ended (interrupted, killed) before this stage finished. */
  readonly result: RecordedStage | undefined;
}

export interface RunData {
  /** Absolute path of `outputs/<recipe>/runs/<timestamp>`. */
  readonly runDir: string;
  /** Absolute path of `outputs/<recipe>`: stage files in the record are relative to it. */
  readonly outDir: string;
  readonly record: RunRecordFile;
  /** In graph order (the plan's order when given, else the record's, which is the recipe's). */
  readonly stages: readonly RunStage[];
  readonly graphSource: GraphSource;
}

/** The run record could not be read or is not one. */
export class RunRecordError extends Error {
  readonly kind: 'missing' | 'invalid';
  constructor(kind: 'missing' | 'invalid', message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface ReadRunOptions {
  /** The exact graph (the plan's stages, or the `run-start` event's). */
  readonly graph?: readonly GraphNode[];
}

/** Reads and checks `<runDir>/run.json`. */
export function readRunData(runDir: string, options: ReadRunOptions = {}): Promise<RunData> {
  try {
    return Promise.resolve(readRunDataSync(runDir, options));
  } catch (cause) {
    return Promise.reject(cause instanceof Error ? cause : new Error(String(cause)));
  }
}

/**
 * {@link readRunData}, synchronously. A run reads its record back for its reports when it has
 * nothing else to do, and a process about to exit at once (a second Ctrl-C) has no time to wait.
 */
export function readRunDataSync(runDir: string, options: ReadRunOptions = {}): RunData {
  const dir = resolve(runDir);
  const path = join(dir, 'run.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? `${dir} holds no run.json`
        : code === 'ENOTDIR'
          ? `${dir} is a file, not a run folder`
          : `cannot read the run record ${path} (${code ?? String(cause)})`;
    throw new RunRecordError(
      'missing',
      `${why}; name a run folder (outputs/<recipe>/runs/<time>/, where run.json is), or none for the newest run under --out`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new RunRecordError('invalid', `${path} is not JSON: ${(cause as Error).message}`);
  }
  const record = checkRecord(json, path);
  return runDataOf(dir, record, options);
}

/** Builds the view of a checked record (exported for tests that make records by hand). */
export function runDataOf(runDir: string, record: RunRecordFile, options: ReadRunOptions = {}): RunData {
  const outDir = dirname(dirname(runDir));
  const recorded = Object.entries(record.stages);
  let graphSource: GraphSource;
  let nodes: GraphNode[];
  if (options.graph) {
    graphSource = 'given';
    nodes = options.graph.map((n) => ({ ...n, needs: [...n.needs].sort() }));
    // A record written by a newer recipe may name stages the graph does not: keep them.
    for (const [id, r] of recorded)
      if (!nodes.some((n) => n.id === id)) nodes.push({ id, model: r.model, needs: [] });
  } else if (recorded.length > 0 && recorded.every(([, r]) => Array.isArray(r.needs))) {
    graphSource = 'record';
    nodes = recorded.map(([id, r]) => ({ id, model: r.model, needs: [...(r.needs ?? [])].sort() }));
  } else {
    graphSource = 'inferred';
    nodes = inferGraph(record.stages);
  }
  const stages = nodes.map((n): RunStage => ({
    id: n.id as StageId,
    model: n.model,
    needs: n.needs,
    subjects: n.subjects ?? [],
    disclosure: n.disclosure,
    result: record.stages[n.id],
  }));
  return { runDir, outDir, record, stages, graphSource };
}

/**
 * The dependency graph from the record alone: B needs A when B's input contains one of A's
 * output URLs or files, or when B was skipped because A failed (the skip message names it).
 */
export function inferGraph(stages: Readonly<Record<string, RecordedStage>>): GraphNode[] {
  const produced = new Map<string, string>();
  for (const [id, r] of Object.entries(stages)) {
    if (r.status === 'skipped') continue;
    for (const s of strings(r.outputs)) produced.set(s, id);
    for (const f of r.files) produced.set(f, id);
  }
  return Object.entries(stages).map(([id, r]) => {
    const needs = new Set<string>();
    for (const s of strings(r.input)) {
      const from = produced.get(s);
      if (from !== undefined && from !== id) needs.add(from);
    }
    if (r.status === 'skipped') {
      const named = /stage "([^"]+)"/.exec(r.message)?.[1];
      if (named !== undefined && named in stages) needs.add(named);
    }
    return { id, model: r.model, needs: [...needs].sort() };
  });
}

/** Every string in a JSON value, depth first, in order. */
export function strings(value: JsonValue | undefined): string[] {
  const out: string[] = [];
  const walk = (v: JsonValue | undefined) => {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) for (const x of v as readonly JsonValue[]) walk(x);
    else if (isJsonObject(v)) for (const x of Object.values(v)) walk(x);
  };
  walk(value);
  return out;
}

/** The status a row shows: a stage the record lacks did not finish before the run ended. */
export type RowStatus = StageResult['status'] | 'not-run';

export function rowStatus(stage: RunStage): RowStatus {
  return stage.result?.status ?? 'not-run';
}

/** Jobs this stage paid for in this run: distinct request ids submitted (not re-attached). */
/** Jobs submitted to the service in a run (the offline engine's cost nothing). */
export function paidOf(stages: readonly RunStage[]): number {
  return stages.reduce((n, s) => n + (s.model.startsWith('local/') ? 0 : paidJobs(s.result)), 0);
}

export function paidJobs(result: RecordedStage | undefined): number {
  if (!result) return 0;
  const ids = new Set<string>();
  for (const a of result.attempts) if (a.requestId !== null && !a.reattached) ids.add(a.requestId);
  return ids.size;
}

/** Wall time of a stage in milliseconds, or undefined when it never ran. */
export function stageDurationMs(result: RecordedStage | undefined): number | undefined {
  if (!result || result.status === 'skipped') return undefined;
  return Math.max(0, result.endedAt - result.startedAt);
}

/** One fan-out item: its attempts, body, outcome and files. */
export interface FanOutItem {
  readonly item: number;
  readonly attempts: readonly AttemptRecord[];
  readonly input: JsonValue;
  /**
   * The last attempt's outcome; `failed` when the stage lists the item as failed; `cached` for an
   * item of a finished stage that took its result from an earlier run (no attempt in this one).
   */
  readonly outcome: 'succeeded' | 'cached' | 'failed' | 'unknown';
  /** Files of this item, relative to the recipe's output folder. */
  readonly files: readonly string[];
  readonly lastFailure: AttemptRecord | undefined;
}

/**
 * A fan-out stage's items (from `foreach`, or a batch the router split into chunks), or
 * undefined for a single-job stage. Files are matched to items by the request id folder the
 * runner downloads into (`<stage>/<request id>/<file>`).
 */
export function fanOutItems(result: RecordedStage): FanOutItem[] | undefined {
  const withItem = result.attempts.filter((a) => a.item !== null);
  if (withItem.length === 0 && !Array.isArray(result.input)) return undefined;
  const items = new Set<number>(withItem.map((a) => a.item!));
  if (Array.isArray(result.input)) for (let i = 0; i < result.input.length; i++) items.add(i);
  const files = result.status === 'skipped' ? [] : result.files;
  const failedItems = new Set(result.status === 'failed' ? (result.failure.items ?? []) : []);
  return [...items]
    .sort((a, b) => a - b)
    .map((item): FanOutItem => {
      const attempts = withItem.filter((a) => a.item === item);
      const ids = new Set(attempts.flatMap((a) => (a.requestId === null ? [] : [a.requestId])));
      // A succeeded or cached stage lists its jobs' request ids in item order (a cached stage
      // may have no attempts in this run).
      if (result.status === 'succeeded' || result.status === 'cached') {
        const id = result.requestIds[item];
        if (id !== undefined) ids.add(id);
      }
      const last = attempts.at(-1);
      // A finished stage whose item made no attempt in this run (a re-run after one item
      // failed runs only that one) has that item's result from the cache.
      // A stage that failed again keeps the outputs of its items that came from the cache.
      const finished =
        result.status === 'succeeded' ||
        result.status === 'cached' ||
        (result.status === 'failed' &&
          Array.isArray(result.outputs) &&
          (result.outputs as readonly JsonValue[])[item] != null);
      const outcome = failedItems.has(item) ? 'failed' : (last?.outcome ?? (finished ? 'cached' : 'unknown'));
      return {
        item,
        attempts,
        input: Array.isArray(result.input) ? ((result.input as readonly JsonValue[])[item] ?? null) : null,
        outcome,
        files: files.filter((f) => ids.has(requestFolder(f) ?? '')),
        lastFailure: [...attempts].reverse().find((a) => a.outcome === 'failed'),
      };
    });
}

/** The request id folder of a stage file (`face/<id>/result.png` → `<id>`). */
export function requestFolder(file: string): string | undefined {
  const parts = file.split('/');
  return parts.length >= 3 ? parts[parts.length - 2] : undefined;
}

/**
 * Maps output URLs to the files they were downloaded as, so an input that is an upstream
 * stage's output URL shows that file. Within one request's folder a file matches the URL with
 * the same base name, else the URLs and files pair up in order (the client numbers repeated
 * names `result-1.png`, …).
 */
export function downloadedFiles(stages: readonly RunStage[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const { result } of stages) {
    if (!result || result.status === 'skipped') continue;
    const byFolder = new Map<string, string[]>();
    for (const f of result.files) {
      const folder = requestFolder(f);
      if (folder !== undefined) (byFolder.get(folder) ?? byFolder.set(folder, []).get(folder)!).push(f);
    }
    const urls = strings(result.outputs).filter((s) => /^https?:\/\//.test(s));
    for (const [folder, files] of byFolder) {
      const mine = urls.filter((u) => u.includes(`/${folder}/`));
      const left = [...files];
      const unmatched: string[] = [];
      for (const url of mine) {
        const name = urlBaseName(url);
        const at = left.findIndex((f) => f.endsWith(`/${name}`));
        if (at >= 0) map.set(url, left.splice(at, 1)[0]!);
        else unmatched.push(url);
      }
      unmatched.forEach((url, i) => {
        const file = left[i];
        if (file !== undefined) map.set(url, file);
      });
    }
  }
  return map;
}

function urlBaseName(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    return '';
  }
}

function checkRecord(json: unknown, path: string): RunRecordFile {
  const fail = (why: string) =>
    new RunRecordError('invalid', `${path} is not a faceswap-pipe run record: ${why}`);
  if (!isJsonObject(json)) throw fail('not a JSON object');
  if (json['schemaVersion'] !== 1)
    throw fail(`unsupported schemaVersion ${JSON.stringify(json['schemaVersion'])}`);
  const recipe = json['recipe'];
  if (!isJsonObject(recipe) || typeof recipe['name'] !== 'string') throw fail('"recipe.name" is missing');
  if (typeof json['runId'] !== 'string' || typeof json['startedAt'] !== 'string')
    throw fail('"runId" or "startedAt" is missing');
  const stages = json['stages'];
  if (!isJsonObject(stages)) throw fail('"stages" is not an object');
  const checked: Record<string, RecordedStage> = {};
  for (const [id, value] of Object.entries(stages)) {
    if (!isJsonObject(value)) throw fail(`stage "${id}" is not an object`);
    const status = value['status'];
    if (status !== 'succeeded' && status !== 'cached' && status !== 'failed' && status !== 'skipped')
      throw fail(`stage "${id}" has an unknown status ${JSON.stringify(status)}`);
    if (!Array.isArray(value['attempts'])) throw fail(`stage "${id}" has no attempts list`);
    if (status !== 'skipped' && !Array.isArray(value['files'])) throw fail(`stage "${id}" has no files list`);
    if (status === 'failed' && !isJsonObject(value['failure']))
      throw fail(`failed stage "${id}" has no failure`);
    checked[id] = { ...(value as unknown as RecordedStage), stage: id as StageId };
  }
  return {
    ...(json as unknown as RunRecordFile),
    runcomfy: typeof json['runcomfy'] === 'string' ? json['runcomfy'] : null,
    options: isJsonObject(json['options']) ? json['options'] : {},
    inFlight: Array.isArray(json['inFlight']) ? (json['inFlight'] as RunRecordFile['inFlight']) : [],
    submissions: typeof json['submissions'] === 'number' ? json['submissions'] : 0,
    stages: checked,
  };
}

/**
 * The folder a run started in, worked out from the run folder and `--out` as recorded
 * (`--out outputs` → the folder holding `outputs/`); undefined when `--out` was absolute
 * or climbed out with `..`, since the folder cannot be told then.
 */
export function runStartFolder(outDir: string, out: unknown): string | undefined {
  if (typeof out !== 'string' || out === '' || isAbsolute(out)) return undefined;
  const parts = normalize(out)
    .split(/[\\/]/)
    .filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return undefined;
  return resolve(dirname(outDir), ...parts.map(() => '..'));
}
