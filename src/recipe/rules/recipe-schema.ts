import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMAS_DIR } from '../../paths.js';
import type { AnalysisContext } from '../context.js';
import { describeRecipePath } from '../describe.js';
import { SchemaChecker, type CompiledSchema, type SchemaIssue } from '../schema-check.js';
import { isJsonObject } from '../../util/json.js';
import { pruneBranchIssues, wordIssue } from '../schema-messages.js';

let compiled: CompiledSchema | undefined;
/** The keys of a `swap:` block, read from the schema when first needed. */
let swapFieldNames: string[] | undefined;
let sharedChecker: SchemaChecker | undefined;

/** One checker per process: compiling schemas is the expensive part of ajv. */
export function schemaChecker(): SchemaChecker {
  sharedChecker ??= new SchemaChecker();
  return sharedChecker;
}

/** The recipe JSON Schema shipped in `schemas/recipe.schema.json`. */
export function recipeSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SCHEMAS_DIR, 'recipe.schema.json'), 'utf8')) as Record<string, unknown>;
}

/** Checks the whole recipe against its schema and reports each issue in the user's words. */
export function checkRecipeSchema(ctx: AnalysisContext, data: unknown): void {
  compiled ??= schemaChecker().compile(recipeSchema());
  for (const issue of pruneBranchIssues(compiled.check(data))) {
    if (issue.keyword === 'const' && issue.path.length === 1 && issue.path[0] === 'version') {
      const message =
        issue.data === '1'
          ? 'the recipe version must be the number 1, not the text "1"; write version: 1 without quotes'
          : `unsupported recipe version ${JSON.stringify(issue.data)}; this faceswap-pipe reads recipes of version 1`;
      ctx.error('unsupported-version', message, ctx.at(['version']));
      continue;
    }
    if (issue.keyword === 'required' && ctx.mergeGives(issue.path, String(issue.params['missingProperty'])))
      continue;
    if (consentRecordMissing(ctx, issue)) continue;
    const worded = wordIssue(issue, describeRecipePath, true, (path, atKey) => ctx.written(path, atKey));
    ctx.error(
      worded.code,
      worded.message + inputFieldHint(ctx, data, issue),
      ctx.at(worded.path, worded.atKey),
    );
  }
}

/**
 * A consent subject with no `release`, or an assets rule with no `rights`: the record of a
 * person's consent or of the rights to the material is missing, which is not permitted (77) like
 * any other missing consent (docs/consent.md), not a mere shape problem.
 */
function consentRecordMissing(ctx: AnalysisContext, issue: SchemaIssue): boolean {
  if (issue.keyword !== 'required' || issue.path[0] !== 'consent') return false;
  const key = issue.params['missingProperty'];
  const [, block, which] = issue.path;
  if (block === 'subjects' && issue.path.length === 3 && key === 'release') {
    ctx.error(
      'release-missing',
      `consent subject "${String(which)}" records no release; add "release: <the reference of the signed release>" for this person's face, or stop using it`,
      ctx.at(issue.path, true),
      undefined,
      'not-permitted',
    );
    return true;
  }
  if (block === 'assets' && issue.path.length === 3 && key === 'rights') {
    ctx.error(
      'rights-missing',
      `consent.assets[${String(which)}] records no rights; add "rights: <how you hold the rights to this material>" (owned, licensed, …)`,
      ctx.at(issue.path, true),
      undefined,
      'not-permitted',
    );
    return true;
  }
  return false;
}

/**
 * `prompt:` lined up with `input:` instead of under it: an unknown stage key that is a field
 * of the stage's model (or of `swap:`) says where it belongs.
 */
function inputFieldHint(ctx: AnalysisContext, data: unknown, issue: SchemaIssue): string {
  if (issue.keyword !== 'additionalProperties' || issue.path.length !== 2 || issue.path[0] !== 'stages')
    return '';
  const key = String(issue.params['additionalProperty']);
  const stages = isJsonObject(data) && isJsonObject(data['stages']) ? data['stages'] : undefined;
  const stage = stages?.[String(issue.path[1])];
  if (!isJsonObject(stage)) return '';
  if (stage['swap'] !== undefined) {
    swapFieldNames ??= Object.keys(
      (recipeSchema()['$defs'] as Record<string, { properties?: Record<string, unknown> }>)['swap']
        ?.properties ?? {},
    );
    return swapFieldNames.includes(key) ? '; it is a swap field: indent it under "swap:"' : '';
  }
  const model = typeof stage['model'] === 'string' ? ctx.catalog.get(stage['model']) : undefined;
  const fields = model?.inputSchema['properties'];
  return isJsonObject(fields) && Object.hasOwn(fields, key)
    ? `; it is an input field of ${model!.id}: indent it under "input:"`
    : '';
}
