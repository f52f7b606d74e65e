import { recipeSchema } from '../../recipe/rules/recipe-schema.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/** `faceswap-pipe schema`: the recipe JSON Schema, for editors and other tools. */
export function schemaCommand(io: CliIo): number {
  io.stdout.write(JSON.stringify(recipeSchema(), null, 2) + '\n');
  return ExitCode.ok;
}
