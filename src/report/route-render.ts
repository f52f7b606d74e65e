import type { Plan, PlannedStage } from '../plan/plan.js';
import type { MediaSeen, RouteDecision } from '../plan/route.js';
import { describeKindSource } from '../plan/route-media.js';
import type { JsonValue } from '../util/json.js';

/** Scenes listed one by one up to this many; longer lists show the first few and a count. */
const LIST_SCENES = 5;

/**
 * `faceswap-pipe route --format text`: for each stage, the decision and its reasons: the
 * inputs seen with their kinds, the result wanted, the rule that fired, the calls, and every
 * route not taken with the reason.
 */
export function renderRouteText(plan: Plan, stages: readonly PlannedStage[]): string {
  let out = `${plan.recipe.name} (${plan.recipe.source.path})\n`;
  for (const stage of stages) {
    out += `\n${stage.id}: ${stage.model}, ${callsText(stage.calls)}\n`;
    const route = stage.route;
    if (!route) {
      out += `  not routed: the stage gives "model" and "input" itself\n`;
      continue;
    }
    const rows: [string, string[]][] = [
      ['wanted', [`a ${route.wanted} (${route.wantedBecause})`]],
      ['inputs', inputLines(route)],
      ['rule', [route.rule]],
      [
        'model',
        [
          `${route.model} (${route.title}, ${route.backend}${route.engine === 'local' ? ', --engine local' : ''})`,
        ],
      ],
      ['calls', [route.callsBecause]],
      ['rejected', route.rejected.map((r) => `${r.model}: ${r.reason}`)],
    ];
    for (const [label, lines] of rows) {
      lines.forEach((line, i) => {
        out += `  ${(i === 0 ? `${label}:` : '').padEnd(10)}${line}\n`;
      });
    }
  }
  return out;
}

/** `faceswap-pipe route --format json`. */
export function renderRouteJson(plan: Plan, stages: readonly PlannedStage[]): string {
  return (
    JSON.stringify(
      {
        recipe: plan.recipe.name,
        file: plan.recipe.source.path,
        stages: stages.map((s) => ({
          id: s.id,
          model: s.model,
          calls: s.calls ?? null,
          route: s.route ? routeJson(s.route, s.bodies) : null,
        })),
      },
      null,
      2,
    ) + '\n'
  );
}

/** A decision as JSON (the `route` of `plan --format json` and of `route --format json`). */
export function routeJson(
  route: RouteDecision,
  bodies: readonly JsonValue[] | undefined,
): Record<string, JsonValue> {
  return {
    model: route.model,
    title: route.title,
    backend: route.backend,
    engine: route.engine,
    pinned: route.pinned,
    wanted: route.wanted,
    wantedBecause: route.wantedBecause,
    rule: route.rule,
    inputs: route.inputs.map((m) => ({
      field: m.field,
      index: m.index ?? null,
      kind: m.kind ?? null,
      by: describeKindSource(m.source),
      value: m.text,
    })),
    scenes: route.sceneCount ?? null,
    layout: route.layout.kind,
    chunks: route.layout.kind === 'chunks' ? route.layout.chunks.map((c) => [...c]) : null,
    calls: route.calls ?? null,
    callsBecause: route.callsBecause,
    rejected: route.rejected.map((r) => ({ model: r.model, title: r.title, reason: r.reason })),
    bodies: bodies ? [...bodies] : null,
  };
}

/** One line for `plan`'s route summary. */
export function routeSummary(stage: PlannedStage): string {
  return `${stage.id}: ${stage.model} (${stage.route!.title}), ${stage.route!.callsBecause}`;
}

function callsText(calls: number | undefined): string {
  return calls === undefined ? 'calls known at run time' : `${calls} call${calls === 1 ? '' : 's'}`;
}

function inputLines(route: RouteDecision): string[] {
  const line = (m: MediaSeen) => {
    const name = m.index === undefined ? m.field : `${m.field}[${m.index}]`;
    return `${name.padEnd(10)} ${(m.kind ?? '?').padEnd(6)} ${m.text} (${describeKindSource(m.source)})`;
  };
  const scenes = route.inputs.filter((m) => m.field === 'scene');
  const others = route.inputs.filter((m) => m.field !== 'scene');
  const lines = others.filter((m) => m.field === 'identity').map(line);
  if (scenes.length > LIST_SCENES) {
    lines.push(...scenes.slice(0, 3).map(line));
    const kinds = [...new Set(scenes.slice(3).map((m) => m.kind ?? '?'))].join(', ');
    lines.push(`… ${scenes.length - 3} more scenes (${kinds}), ${route.sceneCount} in all`);
  } else lines.push(...scenes.map(line));
  lines.push(...others.filter((m) => m.field !== 'identity').map(line));
  return lines.length > 0 ? lines : ['(none)'];
}
