import { Heap } from './heap.js';

/**
 * Pure graph algorithms over string node ids. `deps.get(n)` lists the nodes `n` depends on
 * (edges point from a node to its dependencies). Every result is deterministic: ties are
 * broken by node id, so plans and messages do not change between runs.
 */
export type Deps<N extends string> = ReadonlyMap<N, readonly N[]>;

/** Strongly connected components (Tarjan, iterative so deep graphs cannot overflow the stack). */
export function stronglyConnected<N extends string>(deps: Deps<N>): N[][] {
  const graph = numbered(deps);
  return components(graph).map((members) => members.map((i) => graph.nodes[i]!).sort());
}

/**
 * The components as node numbers (see {@link numbered}), roots taken in id order. Works on
 * typed arrays: with Maps of ids, and each node's edge list filtered again on every visit, the
 * cycle check of a 10,000-stage recipe allocated megabytes for a graph with no cycle at all.
 */
function components<N extends string>({ nodes, edges }: Numbered<N>): number[][] {
  const n = nodes.length;
  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const stack: number[] = [];
  const workNode = new Int32Array(n);
  const workNext = new Int32Array(n);
  const found: number[][] = [];
  let counter = 0;
  const byId = nodes
    .map((_, i) => i)
    .sort((a, b) => (nodes[a]! < nodes[b]! ? -1 : nodes[a]! > nodes[b]! ? 1 : 0));
  for (const root of byId) {
    if (index[root]! >= 0) continue;
    let depth = 0;
    const enter = (node: number) => {
      index[node] = low[node] = counter++;
      stack.push(node);
      onStack[node] = 1;
      workNode[depth] = node;
      workNext[depth++] = 0;
    };
    enter(root);
    while (depth > 0) {
      const node = workNode[depth - 1]!;
      const out = edges[node]!;
      const next = workNext[depth - 1]!;
      if (next < out.length) {
        workNext[depth - 1] = next + 1;
        const to = out[next]!;
        if (index[to]! < 0) enter(to);
        else if (onStack[to]) low[node] = Math.min(low[node]!, index[to]!);
        continue;
      }
      depth--;
      if (depth > 0) {
        const parent = workNode[depth - 1]!;
        low[parent] = Math.min(low[parent]!, low[node]!);
      }
      if (low[node] === index[node]) {
        const component: number[] = [];
        let member: number;
        do {
          member = stack.pop()!;
          onStack[member] = 0;
          component.push(member);
        } while (member !== node);
        found.push(component);
      }
    }
  }
  return found;
}

/** The nodes numbered in `deps` order, and each node's known dependencies as numbers. */
interface Numbered<N extends string> {
  readonly nodes: readonly N[];
  readonly edges: readonly (readonly number[])[];
}

function numbered<N extends string>(deps: Deps<N>): Numbered<N> {
  const nodes = [...deps.keys()];
  const at = new Map<N, number>();
  for (let i = 0; i < nodes.length; i++) at.set(nodes[i]!, i);
  const edges = nodes.map((node) => {
    const out: number[] = [];
    for (const d of deps.get(node)!) {
      const j = at.get(d);
      if (j !== undefined) out.push(j);
    }
    return out;
  });
  return { nodes, edges };
}

/**
 * Every dependency cycle, as one closed walk per strongly connected component that has one:
 * `[a, b, c]` means a depends on b, b on c, c on a. Starts at the smallest id.
 */
export function findCycles<N extends string>(deps: Deps<N>): N[][] {
  const cycles: N[][] = [];
  const graph = numbered(deps);
  for (const members of components(graph)) {
    if (members.length === 1 && !graph.edges[members[0]!]!.includes(members[0]!)) continue;
    const inside = new Set(members.map((i) => graph.nodes[i]!));
    const start = [...inside].sort()[0]!;
    // Breadth-first from start's dependencies back to start, inside the component: the shortest cycle.
    const previous = new Map<N, N>();
    const queue: N[] = [start];
    let found = false;
    for (let head = 0; head < queue.length && !found; head++) {
      const node = queue[head]!;
      for (const next of [...(deps.get(node) ?? [])].sort()) {
        if (!inside.has(next)) continue;
        if (next === start) {
          previous.set(start, node);
          found = true;
          break;
        }
        if (!previous.has(next)) {
          previous.set(next, node);
          queue.push(next);
        }
      }
    }
    const walk: N[] = [];
    let node = previous.get(start)!;
    while (node !== start) {
      walk.push(node);
      node = previous.get(node)!;
    }
    walk.push(start);
    cycles.push(walk.reverse());
  }
  return cycles;
}

/**
 * The graph with nodes numbered: dependents as index lists and dependency counts, so the
 * orderings below run on arrays. With Map lookups and id comparisons in the heap, ordering a
 * 10,000-stage plan took a tenth of validating it.
 */
interface Indexed<N extends string> {
  readonly nodes: readonly N[];
  readonly dependents: readonly number[][];
  /** How many known dependencies each node waits for. */
  readonly waiting: Int32Array;
}

function indexed<N extends string>(deps: Deps<N>): Indexed<N> {
  const { nodes, edges } = numbered(deps);
  const dependents: number[][] = nodes.map(() => []);
  const waiting = new Int32Array(nodes.length);
  for (let i = 0; i < nodes.length; i++) {
    const out = edges[i]!;
    waiting[i] = out.length;
    for (const j of out) dependents[j]!.push(i);
  }
  return { nodes, dependents, waiting };
}

/** Kahn's algorithm; ready nodes are taken by `priority` (higher first), then by id. Assumes no cycles. */
export function topologicalOrder<N extends string>(
  deps: Deps<N>,
  priority: (node: N) => number = () => 0,
): N[] {
  const graph = indexed(deps);
  return prioritised(
    graph,
    Float64Array.from(graph.nodes, (node) => priority(node)),
  ).map((i) => graph.nodes[i]!);
}

/** {@link topologicalOrder} by node number, with each node's priority given. */
function prioritised<N extends string>(
  { nodes, dependents, waiting: counts }: Indexed<N>,
  rank: Float64Array,
): number[] {
  const waiting = counts.slice();
  // Ids are compared once, in a sort: the heap then compares two numbers.
  const byId = nodes
    .map((_, i) => i)
    .sort((a, b) => (nodes[a]! < nodes[b]! ? -1 : nodes[a]! > nodes[b]! ? 1 : 0));
  const ordinal = new Int32Array(nodes.length);
  byId.forEach((node, position) => (ordinal[node] = position));
  const ready = new Heap<number>(
    (a, b) => rank[b]! - rank[a]! || ordinal[a]! - ordinal[b]!,
    byId.filter((i) => waiting[i] === 0),
  );
  const order: number[] = [];
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    order.push(i);
    for (const next of dependents[i]!) if (--waiting[next]! === 0) ready.push(next);
  }
  return order;
}

/**
 * For each node, the longest weighted path from it to the end of the graph, its own weight
 * included: the "remaining work" that critical-path-first scheduling orders by.
 */
export function remainingPath<N extends string>(deps: Deps<N>, weight: (node: N) => number): Map<N, number> {
  return longestRemaining(indexed(deps), weight).remaining;
}

/** {@link remainingPath}, also by node number (0 for nodes on a cycle, which no order reaches). */
function longestRemaining<N extends string>(
  { nodes, dependents, waiting: counts }: Indexed<N>,
  weight: (node: N) => number,
): { longest: Float64Array; remaining: Map<N, number> } {
  const waiting = counts.slice();
  // Any topological order will do here, so plain Kahn with a stack: no heap, no id comparisons.
  const order: number[] = [];
  const stack: number[] = [];
  for (let i = 0; i < nodes.length; i++) if (waiting[i] === 0) stack.push(i);
  for (let i = stack.pop(); i !== undefined; i = stack.pop()) {
    order.push(i);
    for (const next of dependents[i]!) if (--waiting[next]! === 0) stack.push(next);
  }
  const longest = new Float64Array(nodes.length);
  for (let k = order.length - 1; k >= 0; k--) {
    const i = order[k]!;
    let after = 0;
    for (const d of dependents[i]!) after = Math.max(after, longest[d]!);
    longest[i] = weight(nodes[i]!) + after;
  }
  const remaining = new Map<N, number>();
  for (const i of order) remaining.set(nodes[i]!, longest[i]!);
  return { longest, remaining };
}

/**
 * Critical-path-first order: {@link remainingPath} of every node, and the topological order
 * that takes, among ready nodes, the longest remaining chain first (then by id). One numbering
 * of the graph serves both.
 */
export function criticalPathOrder<N extends string>(
  deps: Deps<N>,
  weight: (node: N) => number,
): { order: N[]; remaining: Map<N, number> } {
  const graph = indexed(deps);
  const { longest, remaining } = longestRemaining(graph, weight);
  return { order: prioritised(graph, longest).map((i) => graph.nodes[i]!), remaining };
}

/** Nodes that depend, directly or not, on any of `roots` (roots included). */
export function downstreamOf<N extends string>(deps: Deps<N>, roots: Iterable<N>): Set<N> {
  const dependents = new Map<N, N[]>();
  for (const [node, list] of deps)
    for (const d of list) (dependents.get(d) ?? dependents.set(d, []).get(d)!).push(node);
  const seen = new Set<N>();
  const queue = [...roots];
  while (queue.length > 0) {
    const node = queue.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    queue.push(...(dependents.get(node) ?? []));
  }
  return seen;
}

/** Nodes that any of `roots` needs, directly or not (roots included). */
export function upstreamOf<N extends string>(deps: Deps<N>, roots: Iterable<N>): Set<N> {
  const seen = new Set<N>();
  const queue = [...roots];
  while (queue.length > 0) {
    const node = queue.pop()!;
    if (seen.has(node)) continue;
    seen.add(node);
    queue.push(...(deps.get(node) ?? []));
  }
  return seen;
}
