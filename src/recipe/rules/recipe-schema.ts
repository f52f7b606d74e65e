import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMAS_DIR } from '../../paths.js';
import type { AnalysisContext } from '../context.js';
import { describeRecipePath } from '../describe.js';
import { SchemaChecker, type CompiledSchema } from '../schema-check.js';
import { pruneBranchIssues, wordIssue } from '../schema-messages.js';

let compiled: CompiledSchema | undefined;
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
    const worded = wordIssue(issue, describeRecipePath);
    ctx.error(worded.code, worded.message, ctx.at(worded.path, worded.atKey));
  }
}
