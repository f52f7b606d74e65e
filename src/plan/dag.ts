import { Heap } from './heap.js';

/**
 * Pure graph algorithms over string node ids. `deps.get(n)` lists the nodes `n` depends on
 * (edges point from a node to its dependencies). Every result is deterministic: ties are
 * broken by node id, so plans and messages do not change between runs.
 */
export type Deps<N extends string> = ReadonlyMap<N, readonly N[]>;

/** Strongly connected components (Tarjan, iterative so deep graphs cannot overflow the stack). */
export function stronglyConnected<N extends string>(deps: Deps<N>): N[][] {
  const index = new Map<N, number>();
  const low = new Map<N, number>();
  const onStack = new Set<N>();
  const stack: N[] = [];
  const components: N[][] = [];
  let counter = 0;
  const nodes = [...deps.keys()].sort();
  for (const root of nodes) {
    if (index.has(root)) continue;
    const work: { node: N; next: number }[] = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter);
    counter++;
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const edges = (deps.get(frame.node) ?? []).filter((d) => deps.has(d));
      if (frame.next < edges.length) {
        const to = edges[frame.next++]!;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter);
          counter++;
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: N[] = [];
        let member: N;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component.sort());
      }
    }
  }
  return components;
}

/**
 * Every dependency cycle, as one closed walk per strongly connected component that has one:
 * `[a, b, c]` means a depends on b, b on c, c on a. Starts at the smallest id.
 */
export function findCycles<N extends string>(deps: Deps<N>): N[][] {
  const cycles: N[][] = [];
  for (const component of stronglyConnected(deps)) {
    const members = new Set(component);
    const start = component[0]!;
    if (component.length === 1 && !(deps.get(start) ?? []).includes(start)) continue;
    // Breadth-first from start's dependencies back to start, inside the component: the shortest cycle.
    const previous = new Map<N, N>();
    const queue: N[] = [start];
    let found = false;
    while (queue.length > 0 && !found) {
      const node = queue.shift()!;
      for (const next of [...(deps.get(node) ?? [])].sort()) {
        if (!members.has(next)) continue;
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
  const nodes = [...deps.keys()];
  const at = new Map<N, number>();
  nodes.forEach((node, i) => at.set(node, i));
  const dependents: number[][] = nodes.map(() => []);
  const waiting = new Int32Array(nodes.length);
  nodes.forEach((node, i) => {
    for (const d of deps.get(node)!) {
      const j = at.get(d);
      if (j === undefined) continue;
      waiting[i]!++;
      dependents[j]!.push(i);
    }
  });
  return { nodes, dependents, waiting };
}

/** Kahn's algorithm; ready nodes are taken by `priority` (higher first), then by id. Assumes no cycles. */
export function topologicalOrder<N extends string>(
  deps: Deps<N>,
  priority: (node: N) => number = () => 0,
): N[] {
  const { nodes, dependents, waiting } = indexed(deps);
  // Priorities are read once per node, and ids are compared once, in a sort: the heap then
  // compares two numbers.
  const rank = Float64Array.from(nodes, (node) => priority(node));
  const byId = nodes
    .map((_, i) => i)
    .sort((a, b) => (nodes[a]! < nodes[b]! ? -1 : nodes[a]! > nodes[b]! ? 1 : 0));
  const ordinal = new Int32Array(nodes.length);
  byId.forEach((node, position) => (ordinal[node] = position));
  const ready = new Heap<number>(
    (a, b) => rank[b]! - rank[a]! || ordinal[a]! - ordinal[b]!,
    byId.filter((i) => waiting[i] === 0),
  );
  const order: N[] = [];
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    order.push(nodes[i]!);
    for (const next of dependents[i]!) if (--waiting[next]! === 0) ready.push(next);
  }
  return order;
}

/**
 * For each node, the longest weighted path from it to the end of the graph, its own weight
 * included: the "remaining work" that critical-path-first scheduling orders by.
 */
export function remainingPath<N extends string>(deps: Deps<N>, weight: (node: N) => number): Map<N, number> {
  const { nodes, dependents, waiting } = indexed(deps);
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
  return new Map(order.map((i) => [nodes[i]!, longest[i]!]));
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
