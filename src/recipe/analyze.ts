import { checkOutputTypes } from './rules/output-types.js';
import type { Catalog } from '../catalog/catalog.js';
import type { Backend } from '../catalog/model.js';
import { parseDuration } from '../util/duration.js';
import { sha256Hex } from '../util/sha256.js';
import { isJsonObject, type JsonValue } from '../util/json.js';
import { AnalysisContext } from './context.js';
import { hasErrors, type Diagnostic } from './diagnostic.js';
import { loadRecipeFile, type LoadOptions, type LoadedYaml } from './load.js';
import { buildStages, readDefaults } from './rules/build-stages.js';
import { checkPolicies } from './rules/consent.js';
import { checkGraph } from './rules/graph.js';
import { checkConcurrencyModels, checkModels } from './rules/model-input.js';
import { checkRecipeSchema } from './rules/recipe-schema.js';
import { preloadValidators } from './schema-check.js';
import { checkReferences } from './rules/references.js';
import { routeSwapStages } from './rules/swap.js';
import { applySets, checkVarNames, checkVarValues, type SetOverride } from './sets.js';
import { DEFAULT_URL_TTL_MS, type ModelConcurrency, type Recipe } from './types.js';

export interface AnalyzeOptions extends LoadOptions {
  readonly catalog: Catalog;
  readonly sets?: readonly SetOverride[];
  /**
   * The engine `swap:` stages are routed for: `local` picks a `local/` model wherever one
   * serves the intent (and is an error where none does). Default `runcomfy`. A stage that
   * pins `model:` keeps it either way.
   */
  readonly engine?: Backend;
  /** Let recipes send loopback URLs, over http too (`--allow-insecure-local`, for tests). */
  readonly allowInsecureLocal?: boolean;
  /** `YYYY-MM-DD` that consent releases are checked against; default today (tests pin it). */
  readonly today?: string;
  /**
   * Keep local inputs that name no file in `missingLocalFiles` rather than report them (the
   * commands that run or show a plan decide per stage); `validate` reports them.
   */
  readonly deferLocalFiles?: boolean;
}

/** The outcome of analysis: every diagnostic, and the typed recipe when there were no errors. */
export interface Analysis {
  readonly recipe?: Recipe;
  readonly diagnostics: readonly Diagnostic[];
  /** With `deferLocalFiles`: the missing local inputs, by stage (errors, not yet reported). */
  readonly missingLocalFiles?: readonly { readonly stage: string; readonly diagnostic: Diagnostic }[];
}

/** Reads and checks a recipe file. Never throws for bad input. */
export async function analyzeRecipeFile(path: string, options: AnalyzeOptions): Promise<Analysis> {
  const [loaded] = await Promise.all([loadRecipeFile(path, options), preloadValidators()]);
  return analyzeLoaded(loaded, options);
}

/**
 * Checks a loaded recipe: the schema, then the rules the schema cannot express (models and
 * their inputs, expressions and what they reference, the dependency graph, `--set` names).
 * All of them run even when an earlier one found problems, so one run reports everything.
 */
export function analyzeLoaded(loaded: LoadedYaml, options: AnalyzeOptions): Analysis {
  if (loaded.data === undefined || loaded.index === undefined) return { diagnostics: loaded.diagnostics };
  const data = loaded.data as Record<string, unknown>;
  const ctx = new AnalysisContext(
    loaded.source,
    loaded.index,
    options.catalog,
    options.deferLocalFiles === true,
  );
  ctx.diagnostics.push(...loaded.diagnostics);

  checkRecipeSchema(ctx, data);
  const declared = isJsonObject(data['vars']) ? (data['vars'] as Record<string, JsonValue>) : {};
  checkVarNames(ctx, declared);
  checkVarValues(ctx, declared);
  const vars = applySets(ctx, declared, options.sets ?? []);
  const written = buildStages(ctx, data, readDefaults(data));
  // `swap:` stages become model stages (model, generated input, maybe foreach + merge) from here
  // on; references are checked after, so a reference to a swap stage's output is checked against
  // the model it was routed to.
  const stages = routeSwapStages(ctx, written, vars, options.engine ?? 'runcomfy');
  checkReferences(ctx, stages, Object.keys(vars));
  checkOutputTypes(ctx, stages);
  checkModels(ctx, stages, vars, undefined, declared);
  checkConcurrencyModels(ctx, data);
  checkGraph(ctx, stages);
  checkPolicies(ctx, data, stages, declared, vars, options);

  if (hasErrors(ctx.diagnostics)) return { diagnostics: ctx.diagnostics };
  const cache = isJsonObject(data['cache']) ? (data['cache'] as Record<string, unknown>) : {};
  const defaults = isJsonObject(data['defaults']) ? (data['defaults'] as Record<string, unknown>) : {};
  const recipe: Recipe = {
    source: loaded.source,
    index: loaded.index,
    name: data['name'] as string,
    ...(typeof data['description'] === 'string' && { description: data['description'] }),
    vars,
    concurrencyPerModel: defaults['concurrency_per_model'] as ModelConcurrency,
    stages,
    cacheUrlTtlMs:
      (typeof cache['url_ttl'] === 'string' ? parseDuration(cache['url_ttl']) : undefined) ??
      DEFAULT_URL_TTL_MS,
    ...(data['consent'] !== undefined && { consent: data['consent'] as JsonValue }),
    // Run records and reports need it; validate and plan do not, so it is hashed on first use.
    get hash(): string {
      const hash = sha256Hex(loaded.source.text);
      Object.defineProperty(this, 'hash', { value: hash, enumerable: true });
      return hash;
    },
  };
  return {
    recipe,
    diagnostics: ctx.diagnostics,
    ...(ctx.missingLocalFiles.length > 0 && { missingLocalFiles: ctx.missingLocalFiles }),
  };
}
