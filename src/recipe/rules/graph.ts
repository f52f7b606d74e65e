import { findCycles } from '../../plan/dag.js';
import { didYouMean } from '../../util/suggest.js';
import type { AnalysisContext } from '../context.js';
import type { RelatedLocation } from '../diagnostic.js';
import { STAGE_ID_PATTERN, type StageId, type StageSpec } from '../types.js';
import type { DataPath } from '../yaml-index.js';

/** Checks `needs` entries and reports every dependency cycle, naming each stage on it. */
export function checkGraph(ctx: AnalysisContext, stages: ReadonlyMap<StageId, StageSpec>): void {
  for (const stage of stages.values()) {
    stage.needs.forEach((need, i) => {
      const at = ctx.at(needsPath(ctx, stage.id, i));
      if (need === stage.id) ctx.error('self-reference', `stage "${stage.id}" cannot need itself`, at);
      // A malformed id is reported by the recipe schema, with the id it likely means.
      else if (!stages.has(need) && STAGE_ID_PATTERN.test(need))
        ctx.error(
          'unknown-stage',
          `stage "${stage.id}" needs unknown stage "${need}"${didYouMean(need, [...stages.keys()])}`,
          at,
        );
    });
  }
  const deps = new Map<StageId, StageId[]>();
  for (const stage of stages.values())
    deps.set(
      stage.id,
      stage.dependsOn.filter((d) => d !== stage.id && stages.has(d)),
    );
  for (const cycle of findCycles(deps)) {
    const related: RelatedLocation[] = cycle.map((from, i) => {
      const to = cycle[(i + 1) % cycle.length]!;
      return { ...edgeLocation(ctx, stages.get(from)!, to), message: `"${from}" depends on "${to}" here` };
    });
    const walk = [...cycle, cycle[0]!].join(' -> ');
    ctx.error(
      'dependency-cycle',
      `dependency cycle: ${walk}; a stage cannot depend on its own results`,
      ctx.at(['stages', cycle[0]!], true),
      related,
    );
  }
}

/** Where `from` depends on `to`: the first expression that references it, else its `needs` entry. */
function edgeLocation(ctx: AnalysisContext, from: StageSpec, to: StageId) {
  const reference = from.references.find((r) => r.stage === to);
  if (reference) {
    const location = ctx.atText(reference.at, reference.source, reference.offset, reference.length);
    if (location.range) return location;
  }
  const i = from.needs.indexOf(to);
  return ctx.at(i >= 0 ? needsPath(ctx, from.id, i) : ['stages', from.id]);
}

/** Where a stage's `needs` entry `i` is written: the list item, or `needs:` itself when it names one stage. */
function needsPath(ctx: AnalysisContext, stage: StageId, i: number): DataPath {
  const item: DataPath = ['stages', stage, 'needs', i];
  return ctx.index.valueRange(item) ? item : ['stages', stage, 'needs'];
}
