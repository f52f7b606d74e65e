import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { error, type Diagnostic } from './diagnostic.js';
import { SourceFile } from './source.js';
import { YamlIndex } from './yaml-index.js';

/** Recipes larger than this are refused before parsing; `--max-recipe-size` raises it. */
export const DEFAULT_MAX_RECIPE_BYTES = 8 * 1024 * 1024;

/** Deeper nesting than any real recipe needs; refused before anything recursive sees it. */
export const MAX_NESTING_DEPTH = 64;

/** Aliases expanded while building the data; a "billion laughs" file trips this first. */
export const MAX_ALIAS_EXPANSIONS = 1_000;

/** A recipe file read and parsed, positions kept. `data` is absent when the YAML is unusable. */
export interface LoadedYaml {
  readonly source: SourceFile;
  readonly index?: YamlIndex;
  readonly data?: unknown;
  readonly diagnostics: readonly Diagnostic[];
}

export interface LoadOptions {
  readonly maxBytes?: number;
  /** Folder that relative paths are read from; messages keep the path as the user gave it. */
  readonly cwd?: string;
}

/** Reads a recipe from disk: every failure becomes a diagnostic, never an exception. */
export async function loadRecipeFile(path: string, options: LoadOptions = {}): Promise<LoadedYaml> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_RECIPE_BYTES;
  const fsPath = options.cwd === undefined ? path : resolve(options.cwd, path);
  const empty = new SourceFile(path, '');
  const at = { file: empty };
  let size: number;
  try {
    const info = await stat(fsPath);
    if (!info.isFile()) {
      const what = info.isDirectory() ? 'a directory' : 'not a regular file';
      return fail(empty, error('not-a-file', `${path} is ${what}; give the path of a recipe file (.yaml)`, at, undefined, 'missing-file'));
    }
    size = info.size;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return fail(empty, error('file-not-found', `no such file: ${path}`, at, undefined, 'missing-file'));
    }
    return fail(empty, error('unreadable-file', `cannot read ${path}: ${(cause as Error).message}`, at, undefined, 'missing-file'));
  }
  if (size > maxBytes) {
    return fail(
      empty,
      error(
        'file-too-large',
        `${path} is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} limit for recipes; ` +
          `raise it with --max-recipe-size if the file is really meant to be this large`,
        at,
      ),
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(fsPath);
  } catch (cause) {
    return fail(empty, error('unreadable-file', `cannot read ${path}: ${(cause as Error).message}`, at, undefined, 'missing-file'));
  }
  return parseRecipeText(path, bytes);
}

/** Parses recipe bytes (already read) into data with positions kept. */
export function parseRecipeText(path: string, bytes: Uint8Array | string): LoadedYaml {
  let text: string;
  if (typeof bytes === 'string') {
    text = bytes;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      const source = new SourceFile(path, '');
      return fail(source, error('not-utf8', `${path} is not UTF-8 text; save the recipe as UTF-8 YAML`, { file: source }));
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const source = new SourceFile(path, text);
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    return fail(source, error('not-utf8', `${path} contains NUL bytes: it looks binary, not like a YAML recipe`, locAt(source, nul)));
  }

  let doc: Document;
  try {
    doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, strict: true, stringKeys: false });
  } catch (cause) {
    // The parser is not expected to throw, but a pathological input must not become a stack trace.
    return fail(source, error('yaml-syntax', `cannot parse YAML: ${(cause as Error).message}`, { file: source }));
  }

  const diagnostics: Diagnostic[] = [];
  for (const problem of doc.errors) {
    diagnostics.push(error('yaml-syntax', yamlMessage(problem.code, problem.message), locRange(source, problem.pos)));
  }
  for (const problem of doc.warnings) {
    if (problem.code === 'TAG_RESOLVE_FAILED') {
      diagnostics.push(
        error('yaml-tag', 'custom YAML tags are not allowed in recipes; remove the "!" tag and write a plain value', locRange(source, problem.pos)),
      );
    }
  }
  if (diagnostics.length > 0) return { source, diagnostics };

  const structural = checkStructure(doc, source);
  if (structural.length > 0) return { source, diagnostics: structural };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch (cause) {
    const message =
      cause instanceof ReferenceError
        ? `too many alias expansions (over ${MAX_ALIAS_EXPANSIONS}); recipes may reuse values with anchors, but not multiply them`
        : `cannot build the recipe's data: ${(cause as Error).message}`;
    return fail(source, error('yaml-alias-limit', message, { file: source, range: { start: 0, end: 0 } }));
  }
  const index = new YamlIndex(doc);
  if (data === null || data === undefined) {
    return { source, index, diagnostics: [error('not-a-mapping', 'the recipe is empty; it must be a mapping with version, name and stages', locAt(source, 0))] };
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    return {
      source,
      index,
      diagnostics: [error('not-a-mapping', 'a recipe must be a YAML mapping (version:, name:, stages: …), not a list or a single value', { file: source, ...(index.valueRange([]) && { range: index.valueRange([])! }) })],
    };
  }
  return { source, index, data, diagnostics: [] };
}

/**
 * One iterative walk over the node tree before anything recursive runs on it: nesting depth,
 * duplicate keys (the `yaml` library's own check grows faster than linearly on large mappings,
 * see perf-notes), and keys that are not plain scalars.
 */
function checkStructure(doc: Document, source: SourceFile): Diagnostic[] {
  const out: Diagnostic[] = [];
  const stack: { node: unknown; depth: number }[] = [{ node: doc.contents, depth: 0 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth >= MAX_NESTING_DEPTH) {
      out.push(error('too-deep', `the recipe nests deeper than ${MAX_NESTING_DEPTH} levels; no recipe needs that much`, locRange(source, node.range)));
      return out;
    }
    if (isMap(node)) {
      const seen = new Map<string, [number, number, number] | null | undefined>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key;
        if (!isScalar(key) || (key.value !== null && typeof key.value === 'object')) {
          out.push(error('yaml-syntax', 'mapping keys must be plain text, not lists or mappings', locRange(source, (key as { range?: [number, number, number] } | null)?.range)));
          continue;
        }
        const name = String(key.value);
        const first = seen.get(name);
        if (first !== undefined || seen.has(name)) {
          out.push(
            error('duplicate-key', `duplicate key "${name}"; each key may appear once in a mapping`, locRange(source, key.range), [
              { ...locRange(source, first), message: `"${name}" first defined here` },
            ]),
          );
        } else {
          seen.set(name, key.range);
        }
        if (!isAlias(pair.value)) stack.push({ node: pair.value, depth: depth + 1 });
      }
    } else if (isSeq(node)) {
      for (const item of node.items) if (!isAlias(item)) stack.push({ node: item, depth: depth + 1 });
    }
  }
  return out.reverse();
}

/** The `yaml` library's messages, trimmed of its own position suffix (we print ours). */
function yamlMessage(code: string, message: string): string {
  const plain = message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '').trim();
  switch (code) {
    case 'TAB_AS_INDENT':
      return 'tabs cannot indent YAML; use spaces';
    case 'MULTIPLE_DOCS':
      return 'a recipe file holds one YAML document; remove the extra "---" section';
    case 'DUPLICATE_KEY':
      return plain;
    default:
      return `invalid YAML: ${plain.charAt(0).toLowerCase()}${plain.slice(1)}`;
  }
}

function locAt(file: SourceFile, offset: number) {
  return { file, range: { start: offset, end: offset + 1 } };
}

function locRange(file: SourceFile, range: readonly number[] | null | undefined) {
  if (!range || range.length < 2) return { file };
  const start = range[0]!;
  return { file, range: { start, end: Math.max(range[1]!, start + 1) } };
}

function fail(source: SourceFile, diagnostic: Diagnostic): LoadedYaml {
  return { source, diagnostics: [diagnostic] };
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(bytes % 1024 === 0 ? 0 : 1)} KB`;
  return `${bytes} bytes`;
}
