import type { DataPath } from './yaml-index.js';

/** `images[3].url` for a path below a field. */
export function fieldPath(path: DataPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/**
 * Names a place in a recipe's data the way a user thinks of it:
 * `stage "face"`, `"retries" in stage "face"`, `input field "images[2]" of stage "hero"`.
 */
export function describeRecipePath(path: DataPath): string {
  if (path.length === 0) return 'the recipe';
  const [head, id, key, ...rest] = path;
  if (head === 'stages') {
    if (id === undefined) return '"stages"';
    if (key === undefined) return `stage "${id}"`;
    if (key === 'input')
      return rest.length === 0
        ? `the input of stage "${id}"`
        : `input field "${fieldPath(rest)}" of stage "${id}"`;
    if (key === 'swap')
      return rest.length === 0
        ? `the swap of stage "${id}"`
        : `swap field "${fieldPath(rest)}" of stage "${id}"`;
    return `"${fieldPath([key, ...rest])}" in stage "${id}"`;
  }
  if (head === 'vars' && id !== undefined)
    return `var "${fieldPath([id, ...(key === undefined ? [] : [key]), ...rest])}"`;
  if (path.length === 1) return `"${String(head)}"`;
  return `"${fieldPath(path)}"`;
}
