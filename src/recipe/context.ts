import type { Catalog } from '../catalog/catalog.js';
import {
  error,
  warning,
  type Diagnostic,
  type DiagnosticCategory,
  type DiagnosticCode,
  type DiagnosticLocation,
  type RelatedLocation,
} from './diagnostic.js';
import type { Template } from './expressions.js';
import { scalarSourceMap, type ScalarSourceMap } from './scalar-source.js';
import type { SourceFile, SourceRange } from './source.js';
import type { DataPath, YamlIndex } from './yaml-index.js';

/**
 * What every analysis rule needs: the file, a way back from data paths to source ranges, the
 * catalog, and one list to report into. Rules never throw for bad input; they report and go on,
 * so one run shows every problem.
 */
export class AnalysisContext {
  readonly source: SourceFile;
  readonly index: YamlIndex;
  readonly catalog: Catalog;
  readonly diagnostics: Diagnostic[] = [];
  /**
   * Values whose `${{ }}` could not be parsed (already reported). Later checks treat them as
   * unknown rather than report a second problem about the same text ("must be a list, not a
   * string" for a broken expression).
   */
  readonly brokenValues: DataPath[] = [];
  /**
   * The expressions of those values that did parse, with the value's path and text: what they
   * reference is still checked, so one bad expression does not hide an unknown var beside it.
   */
  readonly brokenTemplates: { readonly template: Template; readonly path: DataPath }[] = [];
  /**
   * Var values that hold `${{ }}` (already reported: vars are data). A value sent from one
   * (`image: ${{ vars.scene }}` with `scene: ${{ vars.base }}/beach.jpg`) is not checked again
   * as a URL or path: the fix is to the var, and a second error would send the reader elsewhere.
   */
  readonly expressionVarValues = new Set<string>();
  /**
   * With `deferLocalFiles`, a local input that names no file is kept here, per stage, instead of
   * reported: only a run that submits that stage needs the file (a cached stage, or one outside
   * `--only`, does not), and `plan` and `status` read the recipe without needing any.
   */
  readonly missingLocalFiles: { readonly stage: string; readonly diagnostic: Diagnostic }[] = [];
  readonly deferLocalFiles: boolean;
  readonly #scalarMaps: ScalarMapCache = new Map();

  constructor(source: SourceFile, index: YamlIndex, catalog: Catalog, deferLocalFiles = false) {
    this.source = source;
    this.index = index;
    this.catalog = catalog;
    this.deferLocalFiles = deferLocalFiles;
  }

  /**
   * True when the mapping at `path` has a `<<` key whose mapping (or list of mappings) holds
   * `key`. YAML 1.2, the default, reads `<<` as a plain key, and that is reported with the advice
   * to write `%YAML 1.1`; saying `key` is missing as well would deny what the author merged in.
   */
  mergeGives(path: DataPath, key: string): boolean {
    if (!this.index.keyRanges(path).has('<<')) return false;
    const merged = [...path, '<<'];
    const keys = this.index.keyRanges(merged);
    // A mapping; else a list of them (past its end, the list itself: no keys).
    if (keys.size > 0) return keys.has(key);
    for (let i = 0; ; i++) {
      const item = this.index.keyRanges([...merged, i]);
      if (item.size === 0) return false;
      if (item.has(key)) return true;
    }
  }

  /** The location of the value (or, with `atKey`, the key) at a data path. */
  at(path: DataPath, atKey = false): DiagnosticLocation {
    const range = atKey ? this.index.keyRange(path) : this.index.valueRange(path);
    return range ? { file: this.source, range } : { file: this.source };
  }

  /**
   * The source text of the scalar at a data path (with `atKey`, of the key naming it), exactly
   * as written (`0x10`, `"7"`, `null`); undefined unless one scalar is written right there.
   */
  written(path: DataPath, atKey = false): string | undefined {
    const range = this.index.scalarRange(path, atKey);
    return range && this.source.text.slice(range.start, range.end);
  }

  /**
   * A location inside a string scalar: `offset`/`length` count characters of the string's
   * value, which differs from the source text in block scalars, folded lines and escapes; each
   * character is traced back to where it was written (see {@link scalarSourceMap}).
   */
  atText(path: DataPath, value: string, offset: number, length: number): DiagnosticLocation {
    const range = this.index.valueRange(path);
    if (!range) return { file: this.source };
    return {
      file: this.source,
      range: textRange(this.source.text, range, value, offset, length, this.#scalarMaps),
    };
  }

  error(
    code: DiagnosticCode,
    message: string,
    location?: DiagnosticLocation,
    related?: readonly RelatedLocation[],
    category?: DiagnosticCategory,
  ): void {
    if (this.#firstTime('error', code, message, location))
      this.diagnostics.push(error(code, message, location, related, category));
  }

  warn(code: DiagnosticCode, message: string, location?: DiagnosticLocation): void {
    if (this.#firstTime('warning', code, message, location))
      this.diagnostics.push(warning(code, message, location));
  }

  /** Diagnostics said so far. */
  readonly #said = new Set<string>();

  /**
   * One problem is said once: text reused through a YAML alias (`input: *shared`) is checked
   * for each stage that uses it, and each check would report the anchor's very text again.
   */
  #firstTime(
    severity: string,
    code: DiagnosticCode,
    message: string,
    location?: DiagnosticLocation,
  ): boolean {
    const range = location?.range;
    const key = `${severity}\0${code}\0${range?.start ?? ''}\0${range?.end ?? ''}\0${message}`;
    if (this.#said.has(key)) return false;
    this.#said.add(key);
    return true;
  }

  errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === 'error').length;
  }
}

/** Source maps of the scalars diagnostics pointed into, by the scalar's start offset. */
export type ScalarMapCache = Map<
  number,
  { readonly value: string; readonly map: ScalarSourceMap | undefined }
>;

/**
 * Maps `length` characters at `offset` within a scalar's value to source offsets. A piece that
 * spans a folded line break ends where its last character was written, on a later line.
 */
export function textRange(
  text: string,
  range: SourceRange,
  value: string,
  offset: number,
  length: number,
  cache?: ScalarMapCache,
): SourceRange {
  const raw = text.slice(range.start, range.end);
  let base: number | undefined;
  if (raw === value) base = range.start;
  else if ((raw.startsWith("'") || raw.startsWith('"')) && raw.slice(1, -1) === value) base = range.start + 1;
  if (base !== undefined) return { start: base + offset, end: base + offset + Math.max(1, length) };
  // Block scalars, folded lines and escapes: replay how the value was read from the text. One
  // long scalar may hold thousands of problems, so its map is built once.
  let cached = cache?.get(range.start);
  if (cached?.value !== value) {
    cached = { value, map: scalarSourceMap(raw, value) };
    cache?.set(range.start, cached);
  }
  const map = cached.map;
  if (map && offset >= 0 && offset < value.length) {
    const last = Math.min(value.length, offset + Math.max(1, length)) - 1;
    return { start: range.start + map.starts[offset]!, end: range.start + map.ends[last]! };
  }
  // A style the map does not model: the piece usually appears in the text verbatim, and once.
  const piece = value.slice(offset, offset + Math.max(1, length));
  const at = raw.indexOf(piece);
  if (piece.length > 1 && at >= 0 && raw.indexOf(piece, at + 1) < 0)
    return { start: range.start + at, end: range.start + at + piece.length };
  return range;
}
