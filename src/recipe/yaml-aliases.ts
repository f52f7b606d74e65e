import { isAlias, isCollection, isPair, isScalar, type Document, type Node } from 'yaml';
import { error, type Diagnostic } from './diagnostic.js';
import type { SourceFile } from './source.js';

/** Aliases expanded while building the data; a "billion laughs" file trips this first. */
export const MAX_ALIAS_EXPANSIONS = 1_000;

/**
 * Checks every alias before the data is built, so each problem points at the alias itself
 * (the `yaml` library only throws, without a position): aliases with no anchor before them,
 * aliases inside the value they name (infinitely deep data), and expansion past
 * {@link MAX_ALIAS_EXPANSIONS}. The cost of an alias is what the library counts: one, plus the
 * cost of every alias inside the value it names, so anchors reused many times stay cheap and
 * nested ones multiply. Recursion follows the YAML nesting, which the depth check has bounded.
 */
export function checkAliases(doc: Document, source: SourceFile): Diagnostic[] {
  const out: Diagnostic[] = [];
  const anchors = new Map<string, Node>();
  const costs = new Map<Node, number>();
  const open = new Set<Node>();
  let expanded = 0;
  let overLimit = false;
  const at = (node: Node) => {
    const range = node.range;
    return range
      ? { file: source, range: { start: range[0], end: Math.max(range[1], range[0] + 1) } }
      : { file: source };
  };

  /** The alias cost of a subtree. */
  const walk = (node: unknown): number => {
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) {
        out.push(
          error(
            'yaml-syntax',
            `invalid YAML: the alias "*${node.source}" names no anchor; define "&${node.source}" on a value before this point`,
            at(node),
          ),
        );
        return 0;
      }
      if (open.has(target)) {
        out.push(
          error(
            'yaml-alias-limit',
            `the alias "*${node.source}" sits inside the value it names, which would make the data infinitely deep`,
            at(node),
          ),
        );
        return 0;
      }
      const cost = 1 + (costs.get(target) ?? 0);
      expanded += cost;
      if (expanded > MAX_ALIAS_EXPANSIONS && !overLimit) {
        overLimit = true;
        out.push(
          error(
            'yaml-alias-limit',
            `too many alias expansions: "*${node.source}" here takes the recipe past ${MAX_ALIAS_EXPANSIONS}; recipes may reuse values with anchors, but not multiply them`,
            at(node),
          ),
        );
      }
      return cost;
    }
    if (!isScalar(node) && !isCollection(node)) return 0;
    // The library resolves an alias to the last node with that anchor before it, in document order.
    if (node.anchor) anchors.set(node.anchor, node);
    let cost = 0;
    if (isCollection(node)) {
      open.add(node);
      for (const item of node.items) cost += isPair(item) ? walk(item.key) + walk(item.value) : walk(item);
      open.delete(node);
    }
    if (node.anchor) costs.set(node, cost);
    return cost;
  };
  walk(doc.contents);
  return out;
}
