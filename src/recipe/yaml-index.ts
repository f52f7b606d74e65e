import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import type { SourceRange } from './source.js';

/** A path into the recipe's data, as JSON pointers and ajv name it: keys and list indexes. */
export type DataPath = readonly (string | number)[];

/**
 * Maps data paths back to YAML nodes, so every problem found in the plain data (by ajv, by a
 * rule, at run time) can point at the exact text the user wrote. Only this module and the
 * loader know about `yaml`'s node types.
 */
export class YamlIndex {
  readonly #doc: Document;
  readonly #pairCache = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(doc: Document) {
    this.#doc = doc;
  }

  /** The range of the value at `path`, or of its nearest existing ancestor. */
  valueRange(path: DataPath): SourceRange | undefined {
    return this.#locate(path).value;
  }

  /**
   * The range of the key that names `path`'s last segment (for "unknown key" and "missing key"
   * problems the key is what the user should look at); falls back to the value's range.
   */
  keyRange(path: DataPath): SourceRange | undefined {
    const found = this.#locate(path);
    // The whole recipe has no key; its first character stands for it (underlining the
    // document's first line would blame a line that is fine).
    if (path.length === 0)
      return (
        found.value && { start: found.value.start, end: Math.min(found.value.end, found.value.start + 1) }
      );
    return found.exact ? (found.key ?? found.value) : found.value;
  }

  /** Ranges of every key of the mapping at `path`, by key text. */
  keyRanges(path: DataPath): Map<string, SourceRange> {
    const out = new Map<string, SourceRange>();
    const node = this.#locate(path).node;
    if (node && isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && pair.key.range) {
          out.set(dataKey(pair.key.value), toRange(pair.key.range));
        }
      }
    }
    return out;
  }

  /**
   * A mapping's pairs by key text, built once per mapping: looking keys up by scanning made
   * every lookup in a 10,000-stage `stages:` mapping linear, and analysis quadratic. The first
   * pair of a duplicated key wins, as in the data.
   */
  #pairs(node: YAMLMap): Map<string, Pair> {
    let pairs = this.#pairCache.get(node);
    if (!pairs) {
      pairs = new Map();
      for (const p of node.items) {
        if (isPair(p) && isScalar(p.key)) {
          const key = dataKey(p.key.value);
          if (!pairs.has(key)) pairs.set(key, p);
        }
      }
      this.#pairCache.set(node, pairs);
    }
    return pairs;
  }

  /**
   * The range of the scalar at `path` (with `atKey`, of the key naming it), only when that is
   * one scalar written right there: not an alias, a collection or an ancestor standing in for a
   * missing path. For advice that quotes what the user wrote.
   */
  scalarRange(path: DataPath, atKey = false): SourceRange | undefined {
    if (path.length === 0) return undefined;
    const parent = this.#locate(path.slice(0, -1));
    const last = path[path.length - 1]!;
    let target: unknown;
    if (!parent.exact) return undefined;
    if (isMap(parent.node)) {
      const pair = this.#pairs(parent.node).get(String(last));
      target = atKey ? pair?.key : pair?.value;
    } else if (isSeq(parent.node) && typeof last === 'number' && !atKey) target = parent.node.items[last];
    return isScalar(target) ? rangeOf(target) : undefined;
  }

  #locate(path: DataPath): { node?: Node; value?: SourceRange; key?: SourceRange; exact: boolean } {
    let node: unknown = this.#doc.contents;
    let key: SourceRange | undefined;
    let value = rangeOf(node);
    for (const segment of path) {
      node = this.#resolve(node);
      let next: unknown;
      let nextKey: SourceRange | undefined;
      if (isMap(node)) {
        const pair = this.#pairs(node).get(String(segment));
        if (pair) {
          next = pair.value;
          nextKey = rangeOf(pair.key);
          // `key:` with no value has a null value node without a range (or an empty one); point at the key then.
          const nextRange = rangeOf(next);
          if (next === null || nextRange === undefined || nextRange.end <= nextRange.start) {
            return { value: nextKey, key: nextKey, exact: true };
          }
        }
      } else if (isSeq(node) && typeof segment === 'number') {
        next = node.items[segment];
      }
      if (next === undefined) {
        return {
          ...(node !== undefined && { node: node as Node }),
          ...(value && { value }),
          ...(key && { key }),
          exact: false,
        };
      }
      node = next;
      key = nextKey;
      value = rangeOf(node) ?? value;
    }
    const resolved = this.#resolve(node);
    return {
      ...(resolved !== undefined && { node: resolved as Node }),
      ...(value && { value }),
      ...(key && { key }),
      exact: true,
    };
  }

  #resolve(node: unknown): unknown {
    let current = node;
    for (let hops = 0; hops < 100 && isAlias(current); hops++) current = current.resolve(this.#doc);
    return current;
  }
}

/**
 * A key as the data names it, the way `yaml` turns keys into object keys: a null key (`null:`,
 * `~:`) is "", not "null", so a problem with the data's "" key finds the key that was written.
 */
function dataKey(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return value === null ? '' : (JSON.stringify(value) ?? '');
  }
}

function rangeOf(node: unknown): SourceRange | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] | null }).range;
    if (range) return toRange(range);
  }
  return undefined;
}

function toRange(range: readonly [number, number, number]): SourceRange {
  return { start: range[0], end: Math.max(range[1], range[0]) };
}
