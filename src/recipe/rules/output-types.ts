import type { ModelInfo } from '../../catalog/model.js';
import { isJsonObject } from '../../util/json.js';
import type { AnalysisContext } from '../context.js';
import { describeRecipePath } from '../describe.js';
import type { ExpressionPart, Template } from '../expressions.js';
import type { StageId, StageSpec } from '../types.js';
import { templatesOf } from './build-stages.js';
import type { DataPath } from '../yaml-index.js';

/**
 * A list where the model takes one URL, or one URL where it takes a list, is known before
 * running when an input field is exactly a reference to another stage's documented output
 * (`character_image_url: ${{ stages.face.outputs.images }}`) or files. Left to run time, the
 * upstream stage is paid for first and this one then fails on its input; reported now.
 *
 * Only plain references are judged (no functions, operators or `*` filters), and only between
 * a string and a list: what anything else gives is for the run to find out.
 */
export function checkOutputTypes(ctx: AnalysisContext, stages: ReadonlyMap<StageId, StageSpec>): void {
  for (const stage of stages.values()) {
    checkForeach(ctx, stages, stage);
    // A swap's text fields (prompt, describe) go into the prompt the router writes; its media
    // fields each take one file.
    if (stage.swap !== undefined)
      for (const { template, path } of templatesOf(stage.swap)) {
        if (!template.whole) checkEmbedded(ctx, stages, template, path);
        else if (isOneFileField(path)) checkOneFile(ctx, stages, template, path);
      }
    if (stage.model === undefined || stage.swap !== undefined) continue;
    const model = ctx.catalog.get(stage.model);
    if (!model) continue;
    for (const { template, path } of templatesOf(stage.input)) {
      // Only a value that is exactly one expression keeps the type it reads; in text, a list
      // or a mapping cannot be embedded at all.
      if (!template.whole) {
        checkEmbedded(ctx, stages, template, path);
        continue;
      }
      const read = wholeReference(stages, template);
      if (!read) continue;
      const { part } = read;
      const gives = producedKind(ctx, read.target, read.kind, read.rest);
      const field = path.slice(3);
      const takes = fieldKind(model, field);
      if (gives === undefined || takes === undefined || gives === takes) continue;
      const written = template.source.trim();
      const place = describeRecipePath(path);
      const message =
        takes === 'string'
          ? `${place} takes one value, but ${written} gives a list; pick one item, e.g. \${{ ${part.text.trim()}[0] }}`
          : `${place} takes a list, but ${written} gives one value; write it as a list: [${/^["']/.test(written) ? written : `"${written}"`}]`;
      ctx.error('stage-output-mismatch', message, ctx.at(path));
    }
  }
}

/** `swap.identity`, `swap.video`, `swap.audio` (or their `url:`): one file each. */
function isOneFileField(path: DataPath): boolean {
  const field = path[3];
  return (
    (field === 'identity' || field === 'video' || field === 'audio') &&
    (path.length === 4 || (path.length === 5 && path[4] === 'url'))
  );
}

/**
 * `identity: ${{ stages.a.outputs.images }}`: one file wanted, a list (or a mapping) known to
 * come. Left to run time, the upstream stage is paid for and this one fails on its input.
 */
function checkOneFile(
  ctx: AnalysisContext,
  stages: ReadonlyMap<StageId, StageSpec>,
  template: Template,
  path: DataPath,
): void {
  const read = wholeReference(stages, template);
  const gives = read && embeddedShape(ctx, read.target, read.kind, read.rest);
  if (!gives) return;
  const text = read.part.text.trim();
  const fix =
    gives === 'a list'
      ? `pick one item, e.g. \${{ ${text}[0] }}, or run the stage once per item (foreach: \${{ ${text} }}, and \${{ item }} here)`
      : 'name the file in it, e.g. one of its fields';
  ctx.error(
    'stage-output-mismatch',
    `${describeRecipePath(path)} takes one file, but \${{ ${text} }} gives ${gives}; ${fix}`,
    ctx.at(path),
  );
}

/**
 * `foreach: ${{ stages.a.outputs }}`: a list wanted, a mapping (or one value) known to come.
 * Only the author's own foreach: a swap split into calls has one the router wrote.
 */
function checkForeach(ctx: AnalysisContext, stages: ReadonlyMap<StageId, StageSpec>, stage: StageSpec): void {
  const layout = stage.route?.layout.kind;
  if (stage.foreach?.kind !== 'template' || layout === 'per-scene' || layout === 'chunks') return;
  const read = wholeReference(stages, stage.foreach.template);
  if (!read) return;
  const text = read.part.text.trim();
  const shape = embeddedShape(ctx, read.target, read.kind, read.rest);
  const one = shape === undefined && producedKind(ctx, read.target, read.kind, read.rest) === 'string';
  if (shape !== 'a mapping' && !one) return;
  const lists = shape === 'a mapping' ? listFieldsOf(ctx, read.target, read.kind, read.rest) : [];
  const fix =
    shape === 'a mapping'
      ? lists.length > 0
        ? `name the list in it, e.g. \${{ ${text}.${lists[0]} }}`
        : 'name a list in it'
      : `write it as a list: ["\${{ ${text} }}"]`;
  ctx.error(
    'stage-output-mismatch',
    `the foreach of stage "${stage.id}" needs a list, but \${{ ${text} }} gives ${shape ?? 'one value'}; ${fix}`,
    ctx.at(stage.foreach.path),
  );
}

/** The fields of a documented mapping of outputs that are lists (`images`). */
function listFieldsOf(
  ctx: AnalysisContext,
  target: StageSpec,
  kind: string | number | undefined,
  rest: readonly (string | number)[],
): string[] {
  if (kind !== 'outputs' || target.model === undefined) return [];
  const properties = walk(ctx.catalog.get(target.model)?.outputs ?? undefined, rest)?.['properties'];
  if (!isJsonObject(properties)) return [];
  return Object.entries(properties)
    .filter(([, p]) => isJsonObject(p) && p['type'] === 'array')
    .map(([name]) => name);
}

/** A value that is exactly one plain reference to another stage's results, split up. */
function wholeReference(stages: ReadonlyMap<StageId, StageSpec>, template: Template) {
  if (!template.whole) return undefined;
  const part = template.parts.find((p): p is ExpressionPart => typeof p !== 'string')!;
  const read = plainStageReference(stages, part);
  return read && { ...read, part };
}

/** A plain reference to another stage's results (`stages.face.outputs.images[0]`), split up. */
function plainStageReference(
  stages: ReadonlyMap<StageId, StageSpec>,
  part: ExpressionPart,
): { target: StageSpec; kind: string | number | undefined; rest: (string | number)[] } | undefined {
  if (part.references.length !== 1 || !PLAIN_REFERENCE.test(part.text)) return undefined;
  const reference = part.references[0]!;
  if (reference.context !== 'stages' || reference.dynamic) return undefined;
  const segments = reference.path.filter(
    (s): s is string | number => typeof s === 'string' || typeof s === 'number',
  );
  if (segments.length !== reference.path.length) return undefined;
  const [upstream, kind, ...rest] = segments;
  const target = typeof upstream === 'string' ? stages.get(upstream as StageId) : undefined;
  return target && { target, kind, rest };
}

/**
 * `prompt: "in the style of ${{ stages.a.outputs.images }}"`: a list (or a mapping) in text
 * fails when the stage starts, after the stage it reads was paid for. Known now when the
 * reference is plain and the upstream model documents what it gives.
 */
function checkEmbedded(
  ctx: AnalysisContext,
  stages: ReadonlyMap<StageId, StageSpec>,
  template: Template,
  path: DataPath,
): void {
  for (const part of template.parts) {
    if (typeof part === 'string') continue;
    const read = plainStageReference(stages, part);
    if (!read) continue;
    const gives = embeddedShape(ctx, read.target, read.kind, read.rest);
    if (gives === undefined) continue;
    const text = part.text.trim();
    const fix =
      gives === 'a list'
        ? `pick one item (\${{ ${text}[0] }}), or write \${{ join(${text}, ', ') }}`
        : `name one of its fields, or write \${{ toJSON(${text}) }}`;
    ctx.error(
      'stage-output-mismatch',
      `${describeRecipePath(path)} embeds \${{ ${text} }} in text, but it gives ${gives}, which cannot be embedded in text; ${fix}`,
      ctx.atText(path, template.source, part.offset, part.text.length),
    );
  }
}

/** 'a list' or 'a mapping' when what a reference reads is known to be one; else undefined. */
function embeddedShape(
  ctx: AnalysisContext,
  target: StageSpec,
  kind: string | number | undefined,
  rest: readonly (string | number)[],
): 'a list' | 'a mapping' | undefined {
  // A fan-out stage's outputs and files are lists, one entry per item.
  if ((kind === 'files' || kind === 'outputs') && rest.length === 0 && perItem(target)) return 'a list';
  if (perItem(target)) return undefined;
  if (kind === 'files') return rest.length === 0 ? 'a list' : undefined;
  if (kind !== 'outputs' || target.model === undefined) return undefined;
  const type = walk(ctx.catalog.get(target.model)?.outputs ?? undefined, rest)?.['type'];
  return type === 'array' ? 'a list' : type === 'object' ? 'a mapping' : undefined;
}

/**
 * Whether a stage's results are per foreach item. A swap split into calls by the router (one per
 * scene, or chunks) merges its calls' images: its outputs are the model's, `{images: [...]}`.
 */
function perItem(stage: StageSpec): boolean {
  return stage.foreach !== undefined && stage.merge !== 'images';
}

/** `stages.face.outputs.images[0]`: names and numeric indexes only. */
const PLAIN_REFERENCE = /^\s*stages(\s*\.\s*[A-Za-z_][\w-]*|\s*\[\s*\d+\s*\])+\s*$/;

type Kind = 'string' | 'array';

/** What `stages.<target>.<kind>.<rest>` is, when the target's model documents it. */
function producedKind(
  ctx: AnalysisContext,
  target: StageSpec,
  kind: string | number | undefined,
  rest: readonly (string | number)[],
): Kind | undefined {
  // A fan-out stage's outputs and files are per item; their shapes are left to run time.
  if (perItem(target)) return undefined;
  if (kind === 'files')
    return rest.length === 0
      ? 'array'
      : rest.length === 1 && typeof rest[0] === 'number'
        ? 'string'
        : undefined;
  if (kind !== 'outputs' || target.model === undefined) return undefined;
  const schema = walk(ctx.catalog.get(target.model)?.outputs ?? undefined, rest);
  return kindOfSchema(schema);
}

/** The kind of value an input field takes, from the model's input schema. */
function fieldKind(model: ModelInfo, field: DataPath): Kind | undefined {
  return kindOfSchema(walk(model.inputSchema, field));
}

function walk(
  schema: Readonly<Record<string, unknown>> | undefined,
  path: readonly (string | number)[],
): Readonly<Record<string, unknown>> | undefined {
  let here = schema;
  for (const segment of path) {
    if (!here) return undefined;
    const next: unknown =
      typeof segment === 'number'
        ? here['items']
        : isJsonObject(here['properties'])
          ? here['properties'][segment]
          : undefined;
    here = isJsonObject(next) ? next : undefined;
  }
  return here;
}

function kindOfSchema(schema: Readonly<Record<string, unknown>> | undefined): Kind | undefined {
  const type = schema?.['type'];
  return type === 'string' || type === 'array' ? type : undefined;
}
