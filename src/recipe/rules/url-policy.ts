import type { Catalog } from '../../catalog/catalog.js';
import type { ModelInfo } from '../../catalog/model.js';
import { staticSentValues, type SentValue } from '../../policy/sent-values.js';
import { checkSentValue, type Receiver, type UrlPolicyOptions } from '../../policy/url-policy.js';
import { canonicalJson, type JsonValue } from '../../util/json.js';
import type { AnalysisContext } from '../context.js';
import { PreparedScope, type Reference, type Template } from '../expressions.js';
import type { DataPath } from '../yaml-index.js';
import { templatesOf } from './build-stages.js';
import { isUnder } from '../resolve.js';
import { describeRecipePath } from '../describe.js';
import { error, type RelatedLocation } from '../diagnostic.js';
import type { StageId, StageSpec } from '../types.js';

/** What one stage sends, as far as analysis knows it, and to which model. */
export interface StageSending {
  readonly stage: StageSpec;
  /** The catalog model; undefined for an unknown model id (already reported) or an unrouted `swap:`. */
  readonly model: ModelInfo | undefined;
  readonly values: readonly SentValue[];
}

/** Every stage's statically known values, computed once for the policy rules. */
export function sentByStage(
  catalog: Catalog,
  stages: ReadonlyMap<StageId, StageSpec>,
  vars: Readonly<Record<string, JsonValue>>,
  /** Values whose expression did not parse (already reported): their text is never sent. */
  broken: readonly DataPath[] = [],
  /** Var values that hold an expression (already reported): values made from them are left out. */
  expressionVars: ReadonlySet<string> = new Set(),
): Map<StageId, StageSending> {
  const out = new Map<StageId, StageSending>();
  const prepared = new PreparedScope({ vars, stages: {} });
  for (const stage of stages.values()) {
    const model = stage.model === undefined ? undefined : catalog.get(stage.model);
    if (stage.model !== undefined && !model) continue;
    let values = staticSentValues(stage, model, vars, prepared);
    if (broken.length > 0) values = values.filter((v) => !isUnder(v.at, broken));
    if (expressionVars.size > 0) values = values.filter((v) => !madeFrom(v.value, expressionVars));
    out.set(stage.id, { stage, model, values });
  }
  return out;
}

/** True when `value` holds one of `texts` (each with `${{` in it, so a match is no accident). */
function madeFrom(value: string, texts: ReadonlySet<string>): boolean {
  if (!value.includes('${{')) return false;
  for (const text of texts) if (value.includes(text)) return true;
  return false;
}

/** Values the policy refused, so the consent rules do not report the same value twice. */
export type RefusedValues = Set<SentValue>;

/**
 * The trust boundary at analysis time: every URL or local path the recipe's author gives a
 * model obeys the URL policy (src/policy/url-policy.ts). Problems are invalid data (exit 65),
 * located at the value, with a note at the var it came from.
 */
export function checkUrlPolicy(
  ctx: AnalysisContext,
  sending: ReadonlyMap<StageId, StageSending>,
  options: UrlPolicyOptions & { readonly recipeDir: string; readonly origin: VarOrigin },
): RefusedValues {
  const refused: RefusedValues = new Set();
  // Before running, a local input must also name a file (the run-time guard leaves it to the engine).
  const policy = { ...options, checkExists: true };
  for (const { stage, model, values } of sending.values()) {
    const receiver: Receiver = !model
      ? { kind: 'unrouted', recipeDir: options.recipeDir }
      : model.backend === 'local'
        ? { kind: 'local', model: model.id, recipeDir: options.recipeDir }
        : { kind: 'hosted', model: model.id };
    if (receiver.kind === 'hosted') checkDownloadedFiles(ctx, stage, receiver.model, sending);
    for (const value of values) {
      if (!value.media || value.origin.kind !== 'author') continue;
      const problem = checkSentValue(value.value, receiver, policy);
      if (!problem) continue;
      refused.add(value);
      const message = `${placeOf(stage, value)} ${problem.reason}${options.origin.suffix(value)}`;
      if (problem.code === 'local-file-missing' && ctx.deferLocalFiles) {
        const diagnostic = error(
          problem.code,
          message,
          ctx.at(value.at),
          options.origin.notes(ctx, value),
          'missing-file',
        );
        ctx.missingLocalFiles.push({ stage: stage.id, diagnostic });
        continue;
      }
      ctx.error(
        problem.code,
        message,
        ctx.at(value.at),
        options.origin.notes(ctx, value),
        problem.code === 'local-file-missing' ? 'missing-file' : 'invalid',
      );
    }
  }
  return refused;
}

/**
 * `stages.X.files` are paths on this machine, and so are the outputs of a stage the offline
 * engine runs. A hosted model given them as a whole value (`image: ${{ stages.face.files[0] }}`,
 * or `${{ item }}` of a `foreach` over them) would be refused when the stage starts, after the
 * upstream stage was paid for or run: reported now, with what to do instead.
 */
function checkDownloadedFiles(
  ctx: AnalysisContext,
  stage: StageSpec,
  model: string,
  sending: ReadonlyMap<StageId, StageSending>,
): void {
  const report = (path: DataPath, template: Template, ref: LocalReference, what: string, list: boolean) => {
    const upstream = ref.stage;
    const engine = sending.get(upstream as StageId)?.model?.id;
    const message =
      ref.kind === 'files'
        ? `${describeRecipePath(path)} ${what} stages.${upstream}.files, files downloaded to this machine, but ${model} runs on RunComfy, which needs a public https:// URL (the runcomfy client uploads nothing); pass the hosted result instead, ${hostedResult(upstream, sending, list)}`
        : `${describeRecipePath(path)} ${what} stages.${upstream}.outputs, files the offline engine (${engine}) makes on this machine, but ${model} runs on RunComfy, which needs a public https:// URL (the runcomfy client uploads nothing); run stage "${upstream}" on RunComfy too, or publish its file and pass that URL`;
    ctx.error('local-file-hosted', message, ctx.atText(path, template.source, ref.offset, ref.length));
  };
  for (const { template, path } of templatesOf(stage.input)) {
    const ref = localReference(template, sending);
    if (ref) report(path, template, ref, 'comes from', ref.path.length === 2);
  }
  if (stage.foreach?.kind === 'template') {
    const ref = localReference(stage.foreach.template, sending);
    const itemWhole = templatesOf(stage.input).some(
      ({ template }) =>
        template.whole &&
        template.parts.some((p) => typeof p !== 'string' && p.references.some((r) => r.context === 'item')),
    );
    if (ref && itemWhole) report(stage.foreach.path, stage.foreach.template, ref, 'goes over', true);
  }
}

type LocalReference = Reference & { readonly stage: string; readonly kind: 'files' | 'outputs' };

/**
 * A whole-value expression that is a reference to a named stage's downloaded files, or to the
 * outputs of a stage the offline engine runs (local paths too).
 */
function localReference(
  template: Template,
  sending: ReadonlyMap<StageId, StageSending>,
): LocalReference | undefined {
  if (!template.whole) return undefined;
  const part = template.parts.find((p) => typeof p !== 'string');
  const ref = part?.references.length === 1 ? part.references[0] : undefined;
  const stage = ref?.path[0];
  if (ref?.context !== 'stages' || typeof stage !== 'string') return undefined;
  if (ref.path[1] === 'files') return { ...ref, stage, kind: 'files' };
  const local = sending.get(stage as StageId)?.model?.backend === 'local';
  return ref.path[1] === 'outputs' && local ? { ...ref, stage, kind: 'outputs' } : undefined;
}

/** How to write the hosted URL of an upstream stage's result: `${{ stages.face.outputs.images[0] }}`. */
function hostedResult(
  upstream: string,
  sending: ReadonlyMap<StageId, StageSending>,
  /** The whole list rather than its first item. */
  list: boolean,
): string {
  const outputs = sending.get(upstream as StageId)?.model?.outputs;
  const properties = outputs?.['properties'];
  const first =
    properties !== null && typeof properties === 'object' ? Object.entries(properties)[0] : undefined;
  if (!first) return `a URL from \${{ stages.${upstream}.outputs }}`;
  const [name, schema] = first as [string, Record<string, unknown>];
  return `\${{ stages.${upstream}.outputs.${name}${schema['type'] === 'array' && !list ? '[0]' : ''} }}`;
}

/** `input field "image" of stage "face"`, with the foreach item when there is one. */
export function placeOf(stage: StageSpec, value: SentValue): string {
  const where = describeRecipePath(['stages', stage.id, value.root, ...value.field]);
  return value.item === undefined ? where : `${where} (foreach item ${value.item})`;
}

/**
 * Where a value written through a var came from: a note at the var's definition, or, for a
 * value given with `--set`, a word saying so (it has no place in the file).
 */
export class VarOrigin {
  readonly #declared: Readonly<Record<string, JsonValue>>;
  readonly #vars: Readonly<Record<string, JsonValue>>;

  constructor(declared: Readonly<Record<string, JsonValue>>, vars: Readonly<Record<string, JsonValue>>) {
    this.#declared = declared;
    this.#vars = vars;
  }

  isSet(name: string): boolean {
    return (
      Object.hasOwn(this.#vars, name) &&
      (!Object.hasOwn(this.#declared, name) ||
        canonicalJson(this.#vars[name]) !== canonicalJson(this.#declared[name]))
    );
  }

  suffix(value: SentValue): string {
    return this.suffixFor(value.fromVar);
  }

  /** ` (given with --set NAME=…)` when the var `name` holds a value `--set` gave, else nothing. */
  suffixFor(name: string | undefined): string {
    return name !== undefined && this.isSet(name) ? ` (given with --set ${name}=…)` : '';
  }

  notes(ctx: AnalysisContext, value: SentValue): RelatedLocation[] | undefined {
    if (value.fromVar === undefined || this.isSet(value.fromVar)) return undefined;
    return [
      {
        ...ctx.at(['vars', value.fromVar]),
        message: `the value comes from var "${value.fromVar}", set here`,
      },
    ];
  }
}
