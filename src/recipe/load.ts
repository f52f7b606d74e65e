import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isAlias, isCollection, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { error, type Diagnostic } from './diagnostic.js';
import { DEFAULT_MAX_RECIPE_BYTES } from './limits.js';
import { SourceFile } from './source.js';
import { firstInvalidUtf8 } from '../util/utf8.js';
import { checkAliases, MAX_ALIAS_EXPANSIONS } from './yaml-aliases.js';
import { yamlErrorDiagnostics } from './yaml-errors.js';
import { YamlIndex } from './yaml-index.js';

export { DEFAULT_MAX_RECIPE_BYTES } from './limits.js';

/** Deeper nesting than any real recipe needs; refused before anything recursive sees it. */
export const MAX_NESTING_DEPTH = 64;

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

/** YAML errors shown per file; past the first few, a broken file mostly repeats itself. */
const MAX_YAML_ERRORS = 20;

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
      return fail(
        empty,
        error(
          'not-a-file',
          `${path} is ${what}; give the path of a recipe file (.yaml)`,
          at,
          undefined,
          'missing-file',
        ),
      );
    }
    size = info.size;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      return fail(empty, error('file-not-found', `no such file: ${path}`, at, undefined, 'missing-file'));
    }
    return fail(
      empty,
      error(
        'unreadable-file',
        `cannot read ${path}: ${(cause as Error).message}`,
        at,
        undefined,
        'missing-file',
      ),
    );
  }
  if (size > maxBytes) {
    return fail(
      empty,
      error(
        'file-too-large',
        `${path} is ${sizeAgainst(size, maxBytes)} limit for recipes; ` +
          `raise it with --max-recipe-size if the file is really meant to be this large`,
        at,
      ),
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(fsPath);
  } catch (cause) {
    return fail(
      empty,
      error(
        'unreadable-file',
        `cannot read ${path}: ${(cause as Error).message}`,
        at,
        undefined,
        'missing-file',
      ),
    );
  }
  return parseRecipeText(path, bytes);
}

/** Parses recipe bytes (already read) into data with positions kept. */
export function parseRecipeText(path: string, bytes: Uint8Array | string): LoadedYaml {
  let text: string;
  if (typeof bytes === 'string') {
    text = bytes;
  } else {
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) return notUtf8(path, bytes, bad);
    text = new TextDecoder('utf-8').decode(bytes);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const source = new SourceFile(path, text);
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    return fail(
      source,
      error(
        'not-utf8',
        'the file contains NUL bytes: it looks binary, not like a YAML recipe',
        locAt(source, nul),
      ),
    );
  }

  let doc: Document;
  try {
    doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, strict: true, stringKeys: false });
  } catch (cause) {
    // Only a stack overflow is known to escape the parser (a mapping nested thousands of levels
    // deep): said as the nesting it is, where it goes too deep. Anything else must not become a
    // stack trace either.
    if (cause instanceof RangeError)
      return fail(source, error('too-deep', TOO_DEEP, locAt(source, tooDeepAt(text))));
    return fail(
      source,
      error('yaml-syntax', `cannot parse YAML: ${(cause as Error).message}`, { file: source }),
    );
  }

  const diagnostics: Diagnostic[] = [];
  const overflow = doc.errors.find((e) => e.code === 'RESOURCE_EXHAUSTION');
  if (overflow) {
    // The parser ran out of stack: the nesting is absurd, and its other errors are echoes of that.
    return fail(source, error('too-deep', TOO_DEEP, locRange(source, overflow.pos)));
  }
  // A second document, or a custom tag, leaves the first document whole: its data is still
  // checked, so such a mistake does not hide the recipe's other problems.
  const fatal = doc.errors.some((e) => e.code !== 'MULTIPLE_DOCS');
  // One mistake may make several errors at the same place (an unquoted `${{ }}` in a flow
  // list): each is said once.
  diagnostics.push(...yamlErrorDiagnostics(doc, source, doc.errors.slice(0, MAX_YAML_ERRORS)));
  const more = doc.errors[MAX_YAML_ERRORS];
  if (more) {
    const message = `${doc.errors.length - MAX_YAML_ERRORS} more YAML errors from here on are not shown; fix the ones above first`;
    diagnostics.push(error('yaml-syntax', message, locRange(source, more.pos)));
  }
  for (const problem of doc.warnings) {
    if (problem.code === 'TAG_RESOLVE_FAILED') {
      diagnostics.push(
        error('yaml-tag', unresolvedTagMessage(problem.message), locRange(source, problem.pos)),
      );
    }
  }
  if (fatal) return { source, diagnostics };

  const built = buildData(doc, source);
  built.diagnostics.unshift(...diagnostics);
  if (built.data === undefined && built.diagnostics.length > 0)
    return { source, diagnostics: built.diagnostics };
  let data = built.data;
  if (built.needsLibrary) {
    const aliases = checkAliases(doc, source);
    if (aliases.length > 0) return { source, diagnostics: [...built.diagnostics, ...aliases] };
    try {
      data = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
    } catch (cause) {
      // checkAliases mirrors the library's limits, so this is a backstop that still names a place.
      const message =
        cause instanceof ReferenceError
          ? `too many alias expansions (over ${MAX_ALIAS_EXPANSIONS}); recipes may reuse values with anchors, but not multiply them`
          : `cannot build the recipe's data: ${(cause as Error).message}`;
      return fail(source, error('yaml-alias-limit', message, locAt(source, 0)));
    }
  }
  const index = new YamlIndex(doc);
  if (data === null || data === undefined) {
    return {
      source,
      index,
      diagnostics: [
        // A first document left empty by a stray "---" is said as such, before this.
        ...built.diagnostics,
        error(
          'not-a-mapping',
          'the recipe is empty; it must be a mapping with version, name and stages',
          locAt(source, 0),
        ),
      ],
    };
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    return {
      source,
      index,
      diagnostics: [
        ...built.diagnostics,
        error(
          'not-a-mapping',
          'a recipe must be a YAML mapping (version:, name:, stages: …), not a list or a single value',
          { file: source, ...(index.valueRange([]) && { range: index.valueRange([])! }) },
        ),
      ],
    };
  }
  return { source, index, data, diagnostics: built.diagnostics };
}

/** What {@link buildData} found: problems, or the data (unless only the library can build it). */
interface BuiltData {
  readonly diagnostics: Diagnostic[];
  readonly data: unknown;
  /** Aliases, merge keys or tagged collections: `doc.toJS()` builds the data instead. */
  readonly needsLibrary: boolean;
}

/**
 * What to say about a tag the `yaml` library could not resolve: one of YAML's own (`!!float 1`,
 * `!!bool yes`: a standard tag whose value does not fit it, kept as text) or a custom one.
 */
function unresolvedTagMessage(libraryMessage: string): string {
  const standard =
    /Unresolved tag: tag:yaml\.org,2002:(str|int|float|bool|null|binary|timestamp)\b(?![/:])/.exec(
      libraryMessage,
    )?.[1];
  return standard === undefined
    ? 'custom YAML tags are not allowed in recipes; remove the "!" tag and write a plain value'
    : `the value does not fit its YAML tag !!${standard}, so it is read as text; remove the tag (a plain value is typed by how it is written: 1, 1.5, true, null)`;
}

/**
 * One walk over the node tree that checks its shape and builds the plain data at the same time:
 * nesting depth (bounded before deeper recursion can hurt), duplicate keys (the `yaml` library's
 * own check grows faster than linearly on large mappings, see perf-notes), and keys that are not
 * plain scalars. The data is what `doc.toJS()` would give (`null` keys become `""`, values keep
 * their resolved scalar types); building it here rather than with the library's generic walk
 * saved a fifth of the time of analysing a 10,000-stage recipe. Documents with aliases, merge
 * keys (YAML 1.1) or tagged collections are left to the library, after the alias checks.
 */
function buildData(doc: Document, source: SourceFile): BuiltData {
  const out: Diagnostic[] = [];
  let needsLibrary = doc.schema.tags.some((tag) => tag.tag === MERGE_TAG);
  let tooDeep = false;
  const build = (node: unknown, depth: number): unknown => {
    if (tooDeep) return null;
    if (isScalar(node)) {
      const value = node.value;
      if (value !== null && typeof value === 'object') needsLibrary = true;
      return typeof value === 'bigint' ? Number(value) : value;
    }
    if (!isCollection(node)) {
      if (isAlias(node)) needsLibrary = true;
      return null;
    }
    if (depth >= MAX_NESTING_DEPTH) {
      tooDeep = true;
      out.push(
        error(
          'too-deep',
          `the recipe nests deeper than ${MAX_NESTING_DEPTH} levels; no recipe needs that much`,
          locRange(source, node.range),
        ),
      );
      return null;
    }
    if (node.tag !== undefined && node.tag !== MAP_TAG && node.tag !== SEQ_TAG) needsLibrary = true;
    if (isSeq(node)) return node.items.map((item) => build(item, depth + 1));
    const object: Record<string, unknown> = {};
    const seen = new Map<string, [number, number, number] | null | undefined>();
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || (key.value !== null && typeof key.value === 'object')) {
        out.push(
          error(
            'yaml-syntax',
            'mapping keys must be plain text, not lists or mappings',
            locRange(source, (key as { range?: [number, number, number] } | null)?.range),
          ),
        );
        continue;
      }
      if (typeof key.value === 'boolean') {
        // `on:` under `%YAML 1.1` is the key true, not the word: a stage `on` silently became
        // stage "true". (A key written `true` means what it says.)
        const written = key.range ? source.text.slice(key.range[0], key.range[1]).trim() : '';
        if (!/^(true|false)$/i.test(written))
          out.push(
            error(
              'yaml-syntax',
              `the key ${written} is read as the boolean ${String(key.value)}, not as a name: YAML 1.1 (the %YAML 1.1 header) reads on/off/yes/no/y/n as booleans; quote it: "${written}":`,
              locRange(source, key.range),
            ),
          );
      }
      const name = String(key.value);
      const first = seen.get(name);
      if (first !== undefined || seen.has(name)) {
        out.push(
          error(
            'duplicate-key',
            `duplicate key "${name}"; each key may appear once in a mapping`,
            locRange(source, key.range),
            [{ ...locRange(source, first), message: `"${name}" first defined here` }],
          ),
        );
        build(pair.value, depth + 1); // its own problems are reported too
        continue;
      }
      seen.set(name, key.range);
      const value = build(pair.value, depth + 1);
      const field = key.value === null ? '' : name;
      if (field === '__proto__')
        Object.defineProperty(object, field, { value, writable: true, enumerable: true, configurable: true });
      else object[field] = value;
    }
    return object;
  };
  const data = build(doc.contents, 0);
  // A duplicate key (the first definition kept) or a key that is not text (left out) still
  // leaves data worth checking, so the rest of the recipe's problems are reported in the same
  // run; a document nested too deep does not.
  return { diagnostics: out, data: tooDeep ? undefined : data, needsLibrary };
}

const MERGE_TAG = 'tag:yaml.org,2002:merge';
const MAP_TAG = 'tag:yaml.org,2002:map';
const SEQ_TAG = 'tag:yaml.org,2002:seq';

const TOO_DEEP = `the recipe nests too deeply to read; a recipe needs at most ${MAX_NESTING_DEPTH} levels`;

/**
 * Where the nesting of a text first goes past {@link MAX_NESTING_DEPTH}, roughly as YAML nests:
 * a stack of the indentations of block lines, plus the depth of open flow brackets. For a
 * diagnostic's position only; the file's start if it never does.
 */
function tooDeepAt(text: string): number {
  const indents: number[] = [];
  let flow = 0;
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let i = start;
    while (i < end && (text[i] === ' ' || text[i] === '-')) i++;
    // A line of only "-" opens a sequence item whose content follows: a level too.
    const dashOnly = i === end && text.slice(start, end).includes('-');
    if (((i < end && text[i] !== '#') || dashOnly) && flow === 0) {
      const indent = i - start;
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      if (indents.length > MAX_NESTING_DEPTH) return i;
    }
    for (; i < end; i++) {
      const c = text[i];
      if (c === '[' || c === '{') flow++;
      else if ((c === ']' || c === '}') && flow > 0) flow--;
      if (indents.length + flow > MAX_NESTING_DEPTH) return i;
    }
    start = end + 1;
  }
  return 0;
}

function locAt(file: SourceFile, offset: number) {
  return { file, range: { start: offset, end: offset + 1 } };
}

function locRange(file: SourceFile, range: readonly number[] | null | undefined) {
  if (!range || range.length < 2) return { file };
  const start = range[0]!;
  return { file, range: { start, end: Math.max(range[1]!, start + 1) } };
}

/**
 * A file that is not UTF-8, shown as far as it decodes: the diagnostic points at the first bad
 * byte, and says so when the bytes look like binary data or UTF-16 rather than a mis-saved text.
 */
function notUtf8(path: string, bytes: Uint8Array, bad: number): LoadedYaml {
  const source = new SourceFile(path, new TextDecoder('utf-8').decode(bytes));
  const offset = new TextDecoder('utf-8').decode(bytes.subarray(0, bad)).length;
  const byte = `0x${bytes[bad]!.toString(16).toUpperCase().padStart(2, '0')}`;
  const head = bytes.subarray(0, 2);
  let message: string;
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    message = 'the file is UTF-16 text; save the recipe as UTF-8';
  } else if (bytes.subarray(0, 8000).includes(0)) {
    message = `the file is binary data, not a YAML recipe (byte ${byte} here is not UTF-8 text)`;
  } else {
    message = `byte ${byte} here is not UTF-8; save the recipe as UTF-8 text (it may be in Latin-1 or another legacy encoding)`;
  }
  return fail(source, error('not-utf8', message, locAt(source, offset)));
}

function fail(source: SourceFile, diagnostic: Diagnostic): LoadedYaml {
  return { source, diagnostics: [diagnostic] };
}

/** `9.5 MB, over the 8 MB`; in bytes when rounding would hide the difference (`8.0 MB, over the 8 MB`). */
function sizeAgainst(size: number, limit: number): string {
  if (size < limit * 1.1) return `${size} bytes, over the ${formatBytes(limit)} (${limit} bytes)`;
  return `${formatBytes(size)}, over the ${formatBytes(limit)}`;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024)
    return `${(bytes / (1024 * 1024)).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(bytes % 1024 === 0 ? 0 : 1)} KB`;
  return `${bytes} bytes`;
}
