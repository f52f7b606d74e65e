import type { Plan } from '../plan/plan.js';
import { formatDurationSetting } from '../util/duration.js';
import { routeJson, routeSummary } from './route-render.js';

/** `plan --format text`: a table in run order, and the totals. */
export function renderPlanText(plan: Plan): string {
  const rows = plan.stages.map((s, i) => [
    String(i + 1),
    s.id,
    s.model,
    s.dependsOn.length === 0 ? '-' : s.dependsOn.join(', '),
    s.calls === undefined ? '?' : String(s.calls),
    `${s.retries} / ${formatDurationSetting(s.timeoutMs)}`,
  ]);
  const header = ['#', 'stage', 'model', 'needs', 'calls', 'retries / timeout'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd();
  const recipe = plan.recipe;
  let out = `${recipe.name}: ${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'} (${recipe.source.path})\n`;
  if (recipe.description) out += `${recipe.description.trim()}\n`;
  out += '\n' + [line(header), ...rows.map(line)].join('\n') + '\n\n';
  const calls =
    plan.totalCalls === undefined
      ? 'an unknown number of model calls (a foreach list is only known at run time)'
      : `${plan.totalCalls} model call${plan.totalCalls === 1 ? '' : 's'}`;
  out += `${calls}; critical path: ${chainText(plan.criticalPath)}\n`;
  const routed = plan.stages.filter((s) => s.route);
  if (routed.length > 0) {
    out += `\nswap stages, routed (\`faceswap-pipe route\` explains each choice):\n`;
    for (const s of routed) out += `  ${routeSummary(s)}\n`;
  }
  return out;
}

/**
 * A chain of stages as `a -> b -> c`; a long one (a 20,000-stage chain printed every id on one
 * line) keeps its ends: `s0 -> … (19990 more) … -> s19999`. `--format json` has all of it.
 */
export function chainText(chain: readonly string[]): string {
  if (chain.length <= MAX_CHAIN) return chain.join(' -> ');
  const head = chain.slice(0, 5);
  const tail = chain.slice(-5);
  const hidden = chain.length - head.length - tail.length;
  return `${head.join(' -> ')} -> … (${hidden} more) … -> ${tail.join(' -> ')}`;
}

const MAX_CHAIN = 15;

/** `plan --format json`: a stable, documented shape (docs/recipes.md). */
export function renderPlanJson(plan: Plan): string {
  return (
    JSON.stringify(
      {
        recipe: plan.recipe.name,
        file: plan.recipe.source.path,
        totalCalls: plan.totalCalls ?? null,
        criticalPath: plan.criticalPath,
        stages: plan.stages.map((s) => ({
          id: s.id,
          model: s.model,
          medium: s.medium,
          backend: s.backend,
          needs: s.dependsOn,
          dependents: s.dependents,
          calls: s.calls ?? null,
          retries: s.retries,
          timeoutMs: s.timeoutMs,
          input: s.input,
          ...(s.route && { route: routeJson(s.route, s.bodies) }),
        })),
      },
      null,
      2,
    ) + '\n'
  );
}

/** Words Mermaid's flowchart grammar reserves; a stage with such an id gets a prefixed node id. */
const MERMAID_RESERVED = new Set([
  'end',
  'graph',
  'flowchart',
  'subgraph',
  'style',
  'class',
  'classdef',
  'click',
  'linkstyle',
  'default',
  'call',
  'href',
]);

/**
 * Whether Mermaid's flowchart lexer reads a stage id as one node id. It does not when the id
 * is a keyword or starts with one before a dash (`end-v2`, `style-x`: checked with mermaid
 * 11's parser), or holds `--` (the start of an edge).
 */
function mermaidSafe(id: string): boolean {
  return !MERMAID_RESERVED.has(id.toLowerCase().split('-')[0]!) && !id.includes('--');
}

/** `plan --format mermaid`: a flowchart a README or pull request renders. */
export function renderPlanMermaid(plan: Plan): string {
  // An id Mermaid would misread gets a prefix (and `_` for `-`), and a suffix where that
  // would meet another stage's id (`end` and a real `stage_end` must stay two nodes).
  const taken = new Set<string>(plan.stages.map((s) => s.id));
  const ids = new Map<string, string>();
  for (const { id } of plan.stages) {
    if (mermaidSafe(id)) continue;
    const base = `stage_${id.replace(/-/g, '_')}`;
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
    taken.add(name);
    ids.set(id, name);
  }
  const node = (id: string) => ids.get(id) ?? id;
  const lines = ['flowchart LR'];
  for (const s of plan.stages) {
    const calls = s.calls === undefined ? '<br/>? calls' : s.calls === 1 ? '' : `<br/>${s.calls} calls`;
    lines.push(`  ${node(s.id)}["${s.id}<br/><small>${escapeMermaid(s.model)}</small>${calls}"]`);
  }
  for (const s of plan.stages) for (const d of s.dependsOn) lines.push(`  ${node(d)} --> ${node(s.id)}`);
  return lines.join('\n') + '\n';
}

function escapeMermaid(text: string): string {
  return text.replace(/"/g, '#quot;');
}
