import { escapeHtml } from './html-text.js';
import { rowStatus, type RunStage } from './run-data.js';

const NODE_W = 210;
const NODE_H = 58;
const GAP_X = 56;
const GAP_Y = 16;
const PAD = 8;
const MODEL_CHARS = 30;

/**
 * The run's DAG as inline SVG, laid out here (no Mermaid or other script): stages in columns
 * by depth (a stage sits one column right of its deepest dependency), each column ordered by
 * the mean row of its dependencies so edges cross less, edges as curves with arrowheads. Each
 * node links to its stage's section and is coloured by status.
 */
export function renderDagSvg(stages: readonly RunStage[]): string {
  const ids = new Set<string>(stages.map((s) => s.id));
  const depth = new Map<string, number>();
  const byId = new Map<string, RunStage>(stages.map((s) => [s.id, s]));
  const depthOf = (id: string, seen: Set<string>): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // a cycle cannot be recorded, but never loop on bad data
    seen.add(id);
    const needs = (byId.get(id)?.needs ?? []).filter((n) => ids.has(n));
    const d = needs.length === 0 ? 0 : 1 + Math.max(...needs.map((n) => depthOf(n, seen)));
    depth.set(id, d);
    return d;
  };
  for (const s of stages) depthOf(s.id, new Set());
  const columns: string[][] = [];
  for (const s of stages) (columns[depth.get(s.id)!] ??= []).push(s.id);
  const row = new Map<string, number>();
  for (const column of columns) {
    if (!column) continue;
    const score = (id: string) => {
      const parents = (byId.get(id)?.needs ?? []).filter((n) => row.has(n));
      return parents.length === 0 ? Infinity : parents.reduce((t, p) => t + row.get(p)!, 0) / parents.length;
    };
    const order = column.map((id, i) => ({ id, i, s: score(id) }));
    order.sort((a, b) =>
      a.s === b.s ? a.i - b.i : a.s === Infinity ? 1 : b.s === Infinity ? -1 : a.s - b.s,
    );
    order.forEach(({ id }, r) => row.set(id, r));
  }
  const rows = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const width = PAD * 2 + columns.length * NODE_W + Math.max(0, columns.length - 1) * GAP_X;
  const height = PAD * 2 + rows * NODE_H + (rows - 1) * GAP_Y;
  const x = (id: string) => PAD + depth.get(id)! * (NODE_W + GAP_X);
  const y = (id: string) => PAD + row.get(id)! * (NODE_H + GAP_Y);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Stage graph" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/></marker></defs>',
  );
  for (const s of stages)
    for (const n of s.needs) {
      if (!ids.has(n)) continue;
      const x1 = x(n) + NODE_W;
      const y1 = y(n) + NODE_H / 2;
      const x2 = x(s.id) - 2;
      const y2 = y(s.id) + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      parts.push(
        `<path class="edge" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}" marker-end="url(#arrow)"/>`,
      );
    }
  for (const s of stages) {
    const status = rowStatus(s);
    const model = s.model.length > MODEL_CHARS ? `…${s.model.slice(-(MODEL_CHARS - 1))}` : s.model;
    parts.push(
      `<a class="node n-${status}" href="#stage-${escapeHtml(s.id)}" data-node="${escapeHtml(s.id)}">`,
      `<title>${escapeHtml(`${s.id}: ${s.model} (${status.replace('-', ' ')})`)}</title>`,
      `<rect x="${x(s.id)}" y="${y(s.id)}" width="${NODE_W}" height="${NODE_H}" rx="8"/>`,
      `<text x="${x(s.id) + 10}" y="${y(s.id) + 18}" font-weight="600">${escapeHtml(s.id)}</text>`,
      `<text class="model" x="${x(s.id) + 10}" y="${y(s.id) + 34}">${escapeHtml(model)}</text>`,
      `<text class="state" x="${x(s.id) + 10}" y="${y(s.id) + 49}">${escapeHtml(status.replace('-', ' '))}</text>`,
      '</a>',
    );
  }
  parts.push('</svg>');
  return parts.join('');
}
