/** Unit tests of the pure graph algorithms in src/plan/dag.ts. `deps.get(n)` lists what n needs. */
import { describe, expect, it } from 'vitest';
import {
  downstreamOf,
  findCycles,
  remainingPath,
  stronglyConnected,
  topologicalOrder,
  upstreamOf,
} from '../src/plan/dag.js';

function graph(edges: Record<string, string[]>): Map<string, string[]> {
  return new Map(Object.entries(edges));
}

describe('findCycles', () => {
  it('finds no cycle in a DAG', () => {
    expect(findCycles(graph({ face: [], motion: ['face'], hero: ['face', 'motion'] }))).toEqual([]);
  });

  it('names every stage of a 3-cycle, starting at the smallest id, in dependency order', () => {
    // face needs touchup, touchup needs gallery, gallery needs face.
    const deps = graph({ face: ['touchup'], gallery: ['face'], touchup: ['gallery'], other: ['face'] });
    expect(findCycles(deps)).toEqual([['face', 'touchup', 'gallery']]);
  });

  it('reports a self-loop, and each separate cycle once', () => {
    const deps = graph({ a: ['a'], b: ['c'], c: ['b'], d: ['e'], e: ['f'], f: ['d'], g: [] });
    expect(findCycles(deps)).toEqual([['a'], ['b', 'c'], ['d', 'e', 'f']].sort());
  });

  it('gives the shortest cycle through the smallest id when a component has several', () => {
    // a -> b -> a and a -> c -> d -> a share a.
    const deps = graph({ a: ['c', 'b'], b: ['a'], c: ['d'], d: ['a'] });
    expect(findCycles(deps)).toEqual([['a', 'b']]);
  });

  it('ignores edges to unknown nodes', () => {
    expect(findCycles(graph({ a: ['ghost'], b: ['a'] }))).toEqual([]);
  });

  it('copes with a long chain and a long cycle without recursion', () => {
    const n = 20_000;
    const chain = new Map(
      Array.from({ length: n }, (_, i) => [
        `s${String(i).padStart(5, '0')}`,
        i === 0 ? [] : [`s${String(i - 1).padStart(5, '0')}`],
      ]),
    );
    expect(findCycles(chain)).toEqual([]);
    chain.set('s00000', [`s${String(n - 1).padStart(5, '0')}`]);
    const [cycle] = findCycles(chain);
    expect(cycle).toHaveLength(n);
    expect(cycle![0]).toBe('s00000');
  });
});

describe('stronglyConnected', () => {
  it('groups nodes by component, each component sorted', () => {
    const components = stronglyConnected(graph({ a: ['b'], b: ['a'], c: ['a'] }));
    expect(components.map((c) => c.join(',')).sort()).toEqual(['a,b', 'c']);
  });
});

describe('topologicalOrder', () => {
  it('puts every node after what it needs, ties broken by id', () => {
    const deps = graph({ motion: ['face'], face: [], hero: [], gallery: ['face'] });
    expect(topologicalOrder(deps)).toEqual(['face', 'gallery', 'hero', 'motion']);
  });

  it('takes ready nodes by priority first (higher first), then by id', () => {
    const deps = graph({ a: [], b: [], c: [], d: ['c'] });
    const priority = (n: string) => ({ a: 1, b: 1, c: 5, d: 0 })[n] ?? 0;
    expect(topologicalOrder(deps, priority)).toEqual(['c', 'a', 'b', 'd']);
  });

  it('a node that becomes ready is placed by priority among the waiting ones', () => {
    const deps = graph({ root: [], low: [], high: ['root'] });
    const priority = (n: string) => ({ root: 10, low: 1, high: 5 })[n] ?? 0;
    expect(topologicalOrder(deps, priority)).toEqual(['root', 'high', 'low']);
  });

  it('ignores dependencies on unknown nodes and leaves out nodes on a cycle', () => {
    expect(topologicalOrder(graph({ a: ['ghost'], b: ['a'] }))).toEqual(['a', 'b']);
    expect(topologicalOrder(graph({ a: [], b: ['c'], c: ['b'] }))).toEqual(['a']);
  });
});

describe('remainingPath', () => {
  it('is the heaviest chain from a node to the end, its own weight included', () => {
    //   face(1) -> motion(1) -> final(1)
    //   face    -> gallery(10)
    const deps = graph({ face: [], motion: ['face'], final: ['motion'], gallery: ['face'] });
    const weight = (n: string) => (n === 'gallery' ? 10 : 1);
    expect(Object.fromEntries(remainingPath(deps, weight))).toEqual({
      face: 11,
      motion: 2,
      final: 1,
      gallery: 10,
    });
  });

  it('orders a critical-path-first schedule when used as the priority', () => {
    const deps = graph({ a: [], b: [], c: ['b'], d: ['c'] });
    const remaining = remainingPath(deps, () => 1);
    // b heads the longest chain; c follows as soon as it is ready, ahead of the waiting a.
    expect(topologicalOrder(deps, (n) => remaining.get(n) ?? 0)).toEqual(['b', 'c', 'a', 'd']);
  });
});

describe('upstreamOf and downstreamOf', () => {
  const deps = graph({ face: [], motion: ['face'], final: ['motion', 'voice'], voice: [], other: [] });

  it('downstream: everything that depends on the roots, roots included', () => {
    expect([...downstreamOf(deps, ['face'])].sort()).toEqual(['face', 'final', 'motion']);
  });

  it('upstream: everything the roots need, roots included', () => {
    expect([...upstreamOf(deps, ['final'])].sort()).toEqual(['face', 'final', 'motion', 'voice']);
  });
});
