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

/** Kahn's algorithm; ready nodes are taken by `priority` (higher first), then by id. Assumes no cycles. */
export function topologicalOrder<N extends string>(
  deps: Deps<N>,
  priority: (node: N) => number = () => 0,
): N[] {
  const remaining = new Map<N, number>();
  const dependents = new Map<N, N[]>();
  for (const [node, list] of deps) {
    const known = list.filter((d) => deps.has(d));
    remaining.set(node, known.length);
    for (const d of known) {
      let bucket = dependents.get(d);
      if (!bucket) dependents.set(d, (bucket = []));
      bucket.push(node);
    }
  }
  // Priorities are read once per node: the callers' functions are map lookups, but a heap
  // compares often.
  const rank = new Map<N, number>();
  for (const node of deps.keys()) rank.set(node, priority(node));
  const compare = (a: N, b: N) => rank.get(b)! - rank.get(a)! || (a < b ? -1 : a > b ? 1 : 0);
  const ready = new Heap<N>(
    compare,
    [...remaining].filter(([, count]) => count === 0).map(([n]) => n),
  );
  const order: N[] = [];
  for (let node = ready.pop(); node !== undefined; node = ready.pop()) {
    order.push(node);
    for (const next of dependents.get(node) ?? []) {
      const left = remaining.get(next)! - 1;
      remaining.set(next, left);
      if (left === 0) ready.push(next);
    }
  }
  return order;
}

/**
 * For each node, the longest weighted path from it to the end of the graph, its own weight
 * included: the "remaining work" that critical-path-first scheduling orders by.
 */
export function remainingPath<N extends string>(deps: Deps<N>, weight: (node: N) => number): Map<N, number> {
  // Any topological order will do here, so plain Kahn with a stack: no heap, no id comparisons.
  const dependents = new Map<N, N[]>();
  const waiting = new Map<N, number>();
  for (const [node, list] of deps) {
    let count = 0;
    for (const d of list) {
      if (!deps.has(d)) continue;
      count++;
      const bucket = dependents.get(d);
      if (bucket) bucket.push(node);
      else dependents.set(d, [node]);
    }
    waiting.set(node, count);
  }
  const order: N[] = [];
  const stack: N[] = [];
  for (const [node, count] of waiting) if (count === 0) stack.push(node);
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    order.push(node);
    for (const next of dependents.get(node) ?? []) {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) stack.push(next);
    }
  }
  const result = new Map<N, number>();
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    let after = 0;
    for (const d of dependents.get(node) ?? []) after = Math.max(after, result.get(d) ?? 0);
    result.set(node, weight(node) + after);
  }
  return result;
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
