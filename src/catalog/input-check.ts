import { schemaChecker } from '../recipe/rules/recipe-schema.js';
import type { CompiledSchema } from '../recipe/schema-check.js';
import type { ModelInfo } from './model.js';

const compiled = new WeakMap<ModelInfo, CompiledSchema>();

/** The compiled input schema of a model, compiled on first use (most recipes use one or two models). */
export function inputChecker(model: ModelInfo): CompiledSchema {
  let checker = compiled.get(model);
  if (!checker) {
    // The $id must not clash between a built-in schema and its override, so compile a copy without it.
    const { $id: _id, ...schema } = model.inputSchema;
    checker = schemaChecker().compile(schema);
    compiled.set(model, checker);
  }
  return checker;
}
