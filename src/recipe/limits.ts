/** Recipes larger than this are refused before parsing; `--max-recipe-size` raises it. */
export const DEFAULT_MAX_RECIPE_BYTES = 8 * 1024 * 1024;
