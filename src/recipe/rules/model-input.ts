import type { ModelInfo } from '../../catalog/model.js';
import { describeValue, isJsonObject, kindOf, type JsonValue } from '../../util/json.js';
import { VarOrigin } from './url-policy.js';
import { didYouMean } from '../../util/suggest.js';
import type { AnalysisContext } from '../context.js';
import type { DiagnosticLocation } from '../diagnostic.js';
import { describeRecipePath } from '../describe.js';
import { PreparedScope, type Template } from '../expressions.js';
import { declaredNames, readsDeclaredVars, isUnder, resolveValue, type ResolutionError } from '../resolve.js';
import type { SchemaIssue } from '../schema-check.js';
import {
  MERGE_HINT,
  pruneBranchIssues,
  withWrittenText,
  wordIssue,
  type WrittenText,
} from '../schema-messages.js';
import type { StageId, StageSpec, ValueNode } from '../types.js';
import type { DataPath } from '../yaml-index.js';
import { inputChecker } from '../../catalog/input-check.js';
import { MAX_STATIC_ITEMS, moreItems } from '../../policy/sent-values.js';

/**
 * `defaults.concurrency_per_model` keys are model ids: one the catalog does not know (a typo,
 * `openai/gpt-image-2/edits`) would silently limit nothing.
 */
export function checkConcurrencyModels(ctx: AnalysisContext, data: Readonly<Record<string, unknown>>): void {
  const defaults = data['defaults'];
  const limits = isJsonObject(defaults) ? defaults['concurrency_per_model'] : undefined;
  if (!isJsonObject(limits)) return;
  for (const id of Object.keys(limits)) {
    if (ctx.catalog.get(id)) continue;
    const hint = didYouMean(id, ctx.catalog.ids()) || ' (`faceswap-pipe models` lists the catalog)';
    ctx.error(
      'unknown-model',
      `unknown model "${id}" in defaults.concurrency_per_model${hint}`,
      ctx.at(['defaults', 'concurrency_per_model', id], true),
    );
  }
}

/**
 * A `foreach` known before running (literals and vars) must evaluate, and give a list: an
 * expression that fails (`fromJSON` of text that is not JSON) or a single value (a var holding
 * one URL, say) would only fail when the stage starts, after its upstream was paid for.
 */
function checkForeachList(
  ctx: AnalysisContext,
  stage: StageSpec,
  scope: PreparedScope,
  ready: (template: Template) => boolean,
  origin: VarOrigin,
): void {
  const node = stage.foreach!;
  // Only a string can pass the recipe schema and still not be a list; other shapes are reported there.
  if (node.kind === 'map' || (node.kind === 'literal' && typeof node.value !== 'string')) return;
  // An expression that did not parse (`foreach: ${{ item }}`) is reported as such already.
  const path = ['stages', stage.id, 'foreach'];
  if (ctx.brokenValues.some((broken) => isUnder(broken, [path]))) return;
  const resolved = resolveValue(node, scope, ready);
  for (const problem of resolved.errors)
    ctx.error('expression-syntax', problem.message, resolutionPlace(ctx, problem));
  if (resolved.unknown.length > 0 || resolved.errors.length > 0 || Array.isArray(resolved.value)) return;
  // A value `--set` gave is fixed on the command line, not in the recipe.
  const name = wholeVar(node);
  const fix =
    name !== undefined && origin.isSet(name)
      ? `give the list with --set, as JSON: --set '${name}=${JSON.stringify([resolved.value])}'`
      : 'make it a list (foreach: [...]) or point it at a var that holds one';
  ctx.error(
    'invalid-value',
    `foreach of stage "${stage.id}" gives ${kindOf(resolved.value)} (${describeValue(resolved.value)})${origin.suffixFor(name)}, not a list: the stage runs once per item of a list; ${fix}`,
    ctx.at(path),
  );
}

/**
 * Checks each stage's model id against the catalog, and its input, as far as it is known
 * before running (literals and vars), against the model's schema. Values that depend on other
 * stages are checked again at run time, once they exist.
 */
export function checkModels(
  ctx: AnalysisContext,
  stages: ReadonlyMap<StageId, StageSpec>,
  vars: Readonly<Record<string, JsonValue>>,
  scope: PreparedScope = new PreparedScope({ vars, stages: {} }),
  /** The vars as the recipe declares them: a problem with a value `--set` gave says so. */
  written: Readonly<Record<string, JsonValue>> = vars,
): void {
  const origin = new VarOrigin(written, vars);
  const setBy = (stage: StageSpec, path: DataPath) => origin.suffixFor(wholeVar(nodeAt(stage.input, path)));
  const declared = declaredNames(Object.keys(vars));
  const ready = (template: Template) => readsDeclaredVars(template, declared);
  for (const stage of stages.values()) {
    const base: DataPath = ['stages', stage.id];
    if (stage.foreach) checkForeachList(ctx, stage, scope, ready, origin);
    if (stage.model === undefined && stage.swap === undefined) {
      // A "model" or "swap" of the wrong type (`model: 42`) has its own error already; one from
      // a YAML 1.2 merge key (`<<: *stage`) has the advice to write "%YAML 1.1".
      const keys = ctx.index.keyRanges(base);
      const given = (key: string) => keys.has(key) || ctx.mergeGives(base, key);
      if (ctx.index.valueRange(base) !== undefined && !given('model') && !given('swap')) {
        ctx.error(
          'model-or-swap',
          `stage "${stage.id}" needs "model" (with "input") or "swap"`,
          ctx.at(base, true),
        );
      }
      continue;
    }
    // A swap stage the router could not route has no model; its problems are reported already.
    if (stage.model === undefined) continue;
    const model = ctx.catalog.get(stage.model);
    if (!model) {
      const hint = stage.model.includes('${{')
        ? '; expressions are evaluated only in input, swap and foreach: write the model id itself, or use swap: to have the router choose the model'
        : didYouMean(stage.model, ctx.catalog.ids()) || ' (`faceswap-pipe models` lists the catalog)';
      ctx.error(
        'unknown-model',
        `unknown model "${stage.model}" in stage "${stage.id}"${hint}`,
        ctx.at([...base, 'model']),
      );
      continue;
    }
    // A routed `swap:` stage's generated input was checked by the swap rule (rules/swap.ts),
    // which points problems at the swap field they come from.
    if (stage.swap !== undefined) continue;
    // A field name is sent as written: `${{ vars.key }}: 1` would reach the model as that key.
    const keys =
      stage.input.kind === 'map'
        ? stage.input.entries.map(([key]) => key)
        : stage.input.kind === 'literal' && isJsonObject(stage.input.value)
          ? Object.keys(stage.input.value)
          : [];
    for (const key of keys)
      if (key.includes('${{'))
        ctx.error(
          'invalid-value',
          `input field name "${key}" of stage "${stage.id}" is sent as written: expressions are evaluated in values, not in keys; write the field name itself`,
          ctx.at([...base, 'input', key], true),
        );
    const resolved = resolveValue(stage.input, scope, ready);
    // An input that is not a mapping is already reported by the recipe schema.
    if (!isJsonObject(resolved.value)) continue;
    for (const problem of resolved.errors)
      ctx.error('expression-syntax', problem.message, resolutionPlace(ctx, problem));
    const inputPath = [...base, 'input'];
    const broken = ctx.brokenValues
      .filter((path) => isUnder(path, [inputPath]))
      .map((path) => path.slice(inputPath.length));
    const unknown = broken.length === 0 ? resolved.unknown : [...resolved.unknown, ...broken];
    const inputText: WrittenText = (path, atKey) => ctx.written([...inputPath, ...path], atKey);
    for (const problem of checkInput(model, resolved.value, stage.id, unknown, undefined, inputText)) {
      const location = ctx.at([...base, 'input', ...problem.path], problem.atKey);
      const message =
        withWrittenText(problem.message, ctx.written([...base, 'input', ...problem.path])) +
        setBy(stage, problem.path);
      if (problem.severity === 'error') ctx.error(problem.code, message, location);
      else ctx.warn(problem.code, message, location);
    }
    if (stage.foreach && resolved.unknown.length > 0)
      checkItems(ctx, stage, model, vars, declared, scope, ready, resolved.unknown, broken, resolved.errors);
  }
}

/**
 * The input of a `foreach` stage whose list is known before running, checked item by item
 * where it reads the item: `image: ${{ item }}` over `[1, 2]`, or `${{ item.scen }}` (a typo:
 * null) would otherwise pass validate and fail only when the stage starts. One problem per
 * place, naming the first item that has it and how many more do.
 */
function checkItems(
  ctx: AnalysisContext,
  stage: StageSpec,
  model: ModelInfo,
  vars: Readonly<Record<string, JsonValue>>,
  declared: ReadonlySet<string>,
  scope: PreparedScope,
  ready: (template: Template) => boolean,
  /** Where the whole-stage check met values it could not know (those that read the item). */
  itemPaths: readonly DataPath[],
  broken: readonly DataPath[],
  /** What the whole-stage check already found failing (and reported). */
  reported: readonly ResolutionError[],
): void {
  const said = new Set(reported.map((e) => e.path.join('\0')));
  const list = resolveValue(stage.foreach!, scope, ready);
  if (list.unknown.length > 0 || list.errors.length > 0 || !Array.isArray(list.value)) return;
  const withItem = (template: Template) => readsDeclaredVars(template, declared, true);
  const found = new Map<string, { problem: InputProblem; item: number; more: number }>();
  const itemInputPaths = itemPaths.map((path) => ['stages', stage.id, 'input', ...path]);
  /** Expressions that read the item and fail for some items (a list embedded in text, say). */
  const failed = new Map<string, { error: ResolutionError; item: number; more: number }>();
  (list.value as readonly JsonValue[]).slice(0, MAX_STATIC_ITEMS).forEach((item, index) => {
    const resolved = resolveValue(
      stage.input,
      new PreparedScope({ vars, stages: {}, item, index }),
      withItem,
    );
    if (!isJsonObject(resolved.value)) return;
    // Those that do not read the item failed (and were reported) in the whole-stage check.
    for (const error of resolved.errors) {
      if (!isUnder(error.path, itemInputPaths) || said.has(error.path.join('\0'))) continue;
      const key = `${error.path.join('\0')}\0${error.message}`;
      const seen = failed.get(key);
      if (seen) seen.more++;
      else failed.set(key, { error, item: index, more: 0 });
    }
    // A field whose expression failed is in `unknown`: it has no value to check.
    for (const problem of checkInput(model, resolved.value, stage.id, [...resolved.unknown, ...broken])) {
      if (problem.severity !== 'error' || !isUnder(problem.path, itemPaths)) continue;
      const key = problem.path.join('\0');
      const seen = found.get(key);
      if (seen) seen.more++;
      else found.set(key, { problem, item: index, more: 0 });
    }
  });
  const total = (list.value as readonly JsonValue[]).length;
  for (const { error, item, more } of failed.values()) {
    const others = moreItems(more, total);
    ctx.error(
      'expression-syntax',
      `${error.message}, for foreach item ${item}${others}`,
      resolutionPlace(ctx, error),
    );
  }
  for (const { problem, item, more } of found.values()) {
    const others = moreItems(more, total);
    // The value comes from the item, so "quote it" (advice for a literal) does not apply.
    const message = problem.message.replace(/; quote it \(.*?\) to keep it text/, '');
    ctx.error(
      problem.code,
      `${message}, for foreach item ${item}${others}`,
      ctx.at(['stages', stage.id, 'input', ...problem.path], problem.atKey),
    );
  }
}

/** Where an evaluation failure is: the failing expression inside its template, when known. */
function resolutionPlace(ctx: AnalysisContext, problem: ResolutionError): DiagnosticLocation {
  return problem.source !== undefined && problem.offset !== undefined
    ? ctx.atText(problem.path, problem.source, problem.offset, problem.length ?? 1)
    : ctx.at(problem.path);
}

/** The input fields a model documents, once per model. */
const fieldsCache = new WeakMap<ModelInfo, ReadonlySet<string>>();

function documentedFields(model: ModelInfo): ReadonlySet<string> {
  let fields = fieldsCache.get(model);
  if (!fields) {
    const properties = model.inputSchema['properties'];
    fieldsCache.set(model, (fields = new Set(isJsonObject(properties) ? Object.keys(properties) : [])));
  }
  return fields;
}

/** A model-input problem, relative to the input object. */
export interface InputProblem {
  readonly severity: 'error' | 'warning';
  readonly code: 'model-input' | 'unknown-model-field';
  readonly category: 'invalid';
  readonly message: string;
  readonly path: DataPath;
  readonly atKey: boolean;
}

/**
 * Checks an input body against a model. `unknown` lists paths not known yet (placeholders);
 * problems at or under them are skipped. Unknown fields are warnings, not errors: the
 * documented field names still conflict (runcomfy-contract.md section 9), so they are sent as
 * written.
 */
export function checkInput(
  model: ModelInfo,
  input: JsonValue,
  stageId: string,
  unknown: readonly DataPath[] = [],
  /** Names a place in the input for messages; a `swap:` stage names the swap field it came from. */
  describe: (path: DataPath) => string = (path) => describeRecipePath(['stages', stageId, 'input', ...path]),
  /** The source text of a place in the input, where the recipe is at hand, for the fixes. */
  written: WrittenText = () => undefined,
): InputProblem[] {
  const problems: InputProblem[] = [];
  // A YAML 1.2 `<<` key is an error below with the advice to write "%YAML 1.1": the fields its
  // mapping holds are not also reported missing.
  const merged = mergedFields(input);
  const issues = pruneBranchIssues(inputChecker(model).check(input)).filter(
    (i: SchemaIssue) =>
      !isUnder(i.path, unknown) &&
      !(i.keyword === 'required' && i.path.length === 0 && merged.has(String(i.params['missingProperty']))),
  );
  for (const issue of issues) {
    const worded = wordIssue(issue, describe, false, written);
    const message =
      issue.keyword === 'required'
        ? `${worded.message.replace('required key', 'required field')} of ${model.id}`
        : `${worded.message} (${model.id})${nullHint(model, issue)}`;
    problems.push({
      severity: 'error',
      code: 'model-input',
      category: 'invalid',
      message,
      path: worded.path,
      atKey: worded.atKey,
    });
  }
  if (isJsonObject(input)) {
    const properties = documentedFields(model);
    // A schema that forbids other fields (the local engine's) already made each one an error.
    const refused = issues
      .filter((i) => i.keyword === 'additionalProperties' && i.path.length === 0)
      .map((i) => String(i.params['additionalProperty']));
    for (const key of Object.keys(input)) {
      if (properties.has(key) || refused.includes(key)) continue;
      // A key written as an expression is an error of its own (checkModels): "it is sent as
      // written" as a mere warning beside it would contradict it.
      if (key.includes('${{')) continue;
      if (key === '<<') {
        // Sent as a field named "<<" (no model has one), with the merged fields missing: an error.
        problems.push({
          severity: 'error',
          code: 'model-input',
          category: 'invalid',
          message: `${describe(['<<'])} is not merged: it would reach ${model.id} as a field named "<<"${MERGE_HINT}`,
          path: [key],
          atKey: true,
        });
        continue;
      }
      problems.push({
        severity: 'warning',
        code: 'unknown-model-field',
        category: 'invalid',
        message:
          key === ''
            ? `${model.id} does not document the input field "": a key written null or ~ (unquoted) is read as no value and sent as ""; quote it ("null") to send a field of that name, or remove it`
            : `${model.id} does not document the input field "${key}" (it is sent as written)${didYouMean(key, [...properties])}`,
        path: [key],
        atKey: true,
      });
    }
    if (model.requiredOneOf.length > 0) {
      const present = new Set([...Object.keys(input), ...merged]);
      const completeSets = model.requiredOneOf.filter((set) => set.every((f) => present.has(f)));
      const complete = completeSets.length > 0;
      if (completeSets.length > 1) {
        // The alternatives are one field under two documented names (runcomfy-contract.md
        // section 9): sending both leaves the service to pick, and the recipe unclear.
        const given = completeSets.map((set) => set.map((f) => `"${f}"`).join(' + '));
        problems.push({
          severity: 'error',
          code: 'model-input',
          category: 'invalid',
          message: `${describe([])} gives both ${given.join(' and ')}; ${model.id} takes one of them: keep the one your service accepts`,
          path: [completeSets[1]![0]!],
          atKey: true,
        });
      }
      if (!complete) {
        const singles = model.requiredOneOf.every((set) => set.length === 1);
        const options = model.requiredOneOf
          .map((set) => set.map((f) => `"${f}"`).join(' + '))
          .join(singles ? ' or ' : ', or ');
        // When one set is started, name what it still lacks: that is the likely intent.
        const started = model.requiredOneOf.filter((set) => set.some((f) => present.has(f)));
        const missing = started.length === 1 ? started[0]!.filter((f) => !present.has(f)) : [];
        const message =
          missing.length > 0
            ? `${describe([])} is missing ${missing.map((f) => `"${f}"`).join(' and ')}; ${model.id} needs ${options}`
            : `${describe([])} needs ${options} (${model.id})`;
        problems.push({
          severity: 'error',
          code: 'model-input',
          category: 'invalid',
          message,
          path: [],
          atKey: true,
        });
      }
    }
  }
  return problems;
}

/**
 * The fix for a field that is null (`aspect_ratio: ${{ vars.ar }}` with `ar: null`): a null is
 * sent as null, which is not leaving the field out, so an optional field is best removed.
 */
function nullHint(model: ModelInfo, issue: SchemaIssue): string {
  if (issue.keyword !== 'type' || issue.data !== null || issue.path.length !== 1) return '';
  const field = String(issue.path[0]);
  const required = model.inputSchema['required'];
  // A required field's null is a value missing (an expression that read nothing, say).
  if (Array.isArray(required) && required.includes(field)) return '';
  if (model.requiredOneOf.some((set) => set.includes(field))) return '';
  return '; null does not leave the field out, it sends null: remove the field to leave it out, or give it a value (an expression can give a default with ||)';
}

/** The fields a `<<` key of an input holds: its mapping's, or those of its list of mappings. */
function mergedFields(input: JsonValue): ReadonlySet<string> {
  const value = isJsonObject(input) ? input['<<'] : undefined;
  if (value === undefined) return new Set();
  const sources = Array.isArray(value) ? (value as readonly JsonValue[]) : [value];
  return new Set(sources.flatMap((m) => (isJsonObject(m) ? Object.keys(m) : [])));
}

/** The value node at a path below `node` (a template stops the walk: it stands for all below). */
function nodeAt(node: ValueNode, path: DataPath): ValueNode | undefined {
  let here: ValueNode | undefined = node;
  for (const segment of path) {
    if (!here || here.kind === 'template' || here.kind === 'literal') return here;
    if (here.kind === 'map') here = here.entries.find(([key]) => key === segment)?.[1];
    else here = typeof segment === 'number' ? here.items[segment] : undefined;
  }
  return here;
}

/** The var a value is exactly (`${{ vars.seed }}`), if it is one. */
function wholeVar(node: ValueNode | undefined): string | undefined {
  if (node?.kind !== 'template' || !node.template.whole) return undefined;
  const part = node.template.parts[0];
  const refs = part !== undefined && typeof part !== 'string' ? part.references : [];
  const ref = refs.length === 1 ? refs[0] : undefined;
  return ref?.context === 'vars' && typeof ref.path[0] === 'string' ? ref.path[0] : undefined;
}
