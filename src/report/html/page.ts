import type { AttemptRecord } from '../../run/result.js';
import { formatDuration } from '../../util/duration.js';
import { isJsonObject, type JsonValue } from '../../util/json.js';
import { unreachable } from '../../util/unreachable.js';
import { reasonText } from '../format.js';
import { costText, countText, runMermaid, statusWord } from '../summary-md.js';
import { renderDagSvg } from './dag-svg.js';
import { baseName, escapeHtml as h, pathHref, safeRemoteHref } from './html-text.js';
import {
  fanOutItems,
  paidOf,
  rowStatus,
  stageDurationMs,
  type FanOutItem,
  type RecordedStage,
  type RowStatus,
  type RunData,
  type RunStage,
} from './run-data.js';
import { CONTACT_SHEET_CSS } from './styles.js';
import { mediaKind, type Preview } from './thumbs.js';

/** What the page needs to know about files, looked up before rendering (rendering is pure). */
export interface PageContext {
  /** The preview of a local file by absolute path (absent: not looked at). */
  readonly preview: (absolutePath: string) => Preview | undefined;
  /** A reference to a file from the run folder, for links (`../../face/<id>/result.png`). */
  readonly href: (absolutePath: string) => string;
  /** An output file (relative to the recipe's output folder) as an absolute path. */
  readonly outputPath: (file: string) => string;
  /** What an input string refers to (an upstream output, a local file, a remote URL, or nothing). */
  readonly inputRef: (value: string) => InputRef;
  /** The provenance record beside an output file, when there is one. */
  readonly provenance: (absolutePath: string) => Provenance | undefined;
  /** Other files in the run folder worth a link (`manifest.json`). */
  readonly runFiles: readonly string[];
  readonly generatedAt: string;
  readonly version: string;
}

export type InputRef =
  | { readonly kind: 'upstream'; readonly url: string; readonly path: string; readonly stage: string }
  | { readonly kind: 'local'; readonly path: string }
  | { readonly kind: 'remote'; readonly url: string }
  | { readonly kind: 'none' };

/** What the page shows of a `<file>.provenance.json` (written by the consent and provenance feature). */
export interface Provenance {
  readonly href: string;
  readonly subjects: readonly string[];
  readonly label: string | undefined;
}

/** The contact sheet of one run: a complete, self-contained HTML document. */
export function renderContactSheet(run: RunData, ctx: PageContext): string {
  const r = run.record;
  const title = `${r.recipe.name} · ${r.status} · faceswap-pipe run ${r.startedAt}`;
  const body = [
    header(run, ctx),
    dagPanel(run),
    ...run.stages.map((s) => stageSection(run, s, ctx)),
    `<footer>Made by faceswap-pipe ${h(ctx.version)} at ${h(ctx.generatedAt)} from <a href="run.json">run.json</a>. A static page: no scripts, no fonts or files from the network; remote inputs are links and are not fetched.</footer>`,
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file: data:; media-src 'self' file:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<title>${h(title)}</title>
<link rel="icon" href="data:,">
<style>${CONTACT_SHEET_CSS}</style>
</head>
<body>
<div class="page" data-run="${h(r.runId)}" data-status="${h(r.status)}">
${body.join('\n')}
</div>
</body>
</html>
`;
}

function header(run: RunData, ctx: PageContext): string {
  const r = run.record;
  const counts: Record<RowStatus, number> = { succeeded: 0, cached: 0, failed: 0, skipped: 0, 'not-run': 0 };
  for (const s of run.stages) counts[rowStatus(s)]++;
  const ms = r.endedAt === null ? undefined : Date.parse(r.endedAt) - Date.parse(r.startedAt);
  const facts: string[] = [
    `<li>recipe <b class="mono">${h(r.recipe.file)}</b></li>`,
    `<li>started <b>${h(r.startedAt)}</b></li>`,
    ...(ms !== undefined && Number.isFinite(ms) ? [`<li>took <b>${h(formatDuration(ms))}</b></li>`] : []),
    `<li>stages <b>${h(countText(counts))}</b></li>`,
    `<li>jobs paid <b>${paidOf(run.stages)}</b></li>`,
    ...(r.exitCode === null ? [] : [`<li>exit <b>${r.exitCode}</b></li>`]),
    `<li>faceswap-pipe <b>${h(r.faceswapPipe)}</b></li>`,
    ...(r.runcomfy ? [`<li>client <b>${h(r.runcomfy)}</b></li>`] : []),
    `<li>run <span class="mono">${h(r.runId)}</span></li>`,
    `<li><a href="run.json">run.json</a>${ctx.runFiles.map((f) => ` · <a href="${pathHref(f)}">${h(f)}</a>`).join('')}</li>`,
  ];
  const inFlight =
    r.inFlight.length === 0
      ? ''
      : `<div class="error"><b>Jobs still in flight when the record was written:</b> ${r.inFlight
          .map(
            (j) =>
              `${h(j.stage)}${j.item === null ? '' : `[${j.item}]`} <span class="mono">${h(j.requestId)}</span>`,
          )
          .join(', ')}</div>`;
  return `<header>
<div class="run-header"><h1>${h(r.recipe.name)}</h1><span class="badge st-${h(r.status)}" id="run-status">${h(r.status)}</span></div>
<ul class="facts">${facts.join('')}</ul>${inFlight}
</header>`;
}

function dagPanel(run: RunData): string {
  const note =
    run.graphSource === 'inferred'
      ? '<p class="note">Dependencies inferred from the run record (a stage whose input holds another stage&#39;s output); explicit <code>needs</code> without a data reference are not shown.</p>'
      : '';
  return `<section class="panel dag"><h2>Graph</h2><div class="dag-scroll">${renderDagSvg(run.stages)}</div>${note}
<details><summary>Mermaid source</summary><pre class="mermaid-src">${h(runMermaid(run.stages))}</pre></details></section>`;
}

function stageSection(run: RunData, stage: RunStage, ctx: PageContext): string {
  const status = rowStatus(stage);
  const result = stage.result;
  const parts: string[] = [];
  const label =
    result?.status === 'failed' ? `failed · ${reasonText(result.failure.reason)}` : statusWord(status);
  parts.push(
    `<div class="stage-head"><h2>${h(stage.id)}</h2><span class="badge st-${status}">${h(label)}</span><code class="model">${h(stage.model)}</code></div>`,
  );
  parts.push(`<ul class="stage-facts">${stageFacts(run, stage).join('')}</ul>`);
  if (!result) {
    parts.push('<p class="note">Not run: the run ended before this stage finished.</p>');
  } else {
    switch (result.status) {
      case 'failed': {
        const f = result.failure;
        parts.push(
          `<div class="error"><b>${h(reasonText(f.reason))}${f.exitCode === undefined ? '' : ` (exit ${f.exitCode})`}${f.retryable ? ' · retryable: a re-run may succeed' : ''}</b><div>${h(f.message)}</div>${f.stderrTail ? `<pre>${h(f.stderrTail)}</pre>` : ''}</div>`,
        );
        break;
      }
      case 'skipped':
        parts.push(`<p class="note">Skipped (${h(result.reason)}): ${h(result.message)}</p>`);
        break;
      case 'succeeded':
      case 'cached':
        break;
      default:
        unreachable(result);
    }
    const items = result.status === 'skipped' ? undefined : fanOutItems(result);
    if (items && items.length > 0) parts.push(fanOutGrid(stage, result, items, ctx));
    else if (result.status !== 'skipped' || result.input !== null)
      parts.push(inputsAndOutputs(stage, result, ctx));
    parts.push(consent(stage, result, ctx));
    if (result.attempts.length > 0)
      parts.push(attemptsTable(run, result, items !== undefined && items.length > 0));
  }
  return `<section class="stage st-${status}" id="stage-${h(stage.id)}" data-stage="${h(stage.id)}" data-status="${status}">
${parts.filter((p) => p !== '').join('\n')}
</section>`;
}

function stageFacts(run: RunData, stage: RunStage): string[] {
  const r = stage.result;
  const facts: string[] = [];
  if (r) {
    facts.push(`<li>${r.attempts.length} attempt${r.attempts.length === 1 ? '' : 's'}</li>`);
    const ms = stageDurationMs(r);
    if (ms !== undefined) {
      const offset = r.startedAt - Date.parse(run.record.startedAt);
      facts.push(
        `<li>started +${h(formatDuration(Math.max(0, offset)))}, took ${h(formatDuration(ms))}</li>`,
      );
    }
    facts.push(`<li>${h(costText(stage))}</li>`);
    if (r.status !== 'skipped')
      facts.push(`<li>${r.files.length} file${r.files.length === 1 ? '' : 's'}</li>`);
  }
  if (stage.needs.length > 0)
    facts.push(`<li>needs ${stage.needs.map((n) => `<a href="#stage-${h(n)}">${h(n)}</a>`).join(', ')}</li>`);
  return facts;
}

function inputsAndOutputs(stage: RunStage, result: RecordedStage, ctx: PageContext): string {
  const files = result.status === 'skipped' ? [] : result.files;
  const inputs =
    result.input === null && result.status === 'cached'
      ? '<p class="note">Not recorded: the result came from the cache (the run that made it has the inputs).</p>'
      : inputBlock(result.input, ctx, 'full');
  const outputs =
    files.length === 0
      ? `<p class="note">${result.status === 'skipped' ? 'Not run.' : 'No files.'}</p>`
      : `<div class="tiles">${files.map((f) => outputTile(stage.id, f, ctx)).join('')}</div>`;
  const extra = result.status === 'skipped' ? '' : undownloaded(result.outputs, files.length > 0, ctx);
  return `<div class="io"><div class="inputs"><h3>Inputs</h3>${inputs}</div><div class="arrow" aria-hidden="true">→</div><div class="outputs"><h3>Outputs</h3>${outputs}${extra}</div></div>`;
}

/** Output URLs that did not become files (untrusted hosts, or outputs with no download). */
function undownloaded(outputs: JsonValue, haveFiles: boolean, ctx: PageContext): string {
  const urls: string[] = [];
  walkStrings(outputs, [], (value) => {
    const ref = ctx.inputRef(value);
    if (ref.kind === 'remote') urls.push(value);
  });
  if (urls.length === 0 || urls.length > 50) return '';
  return `<p class="note">${haveFiles ? 'Also returned' : 'Returned'}, not downloaded: ${urls
    .map(
      (u) =>
        `<a class="remote-link" href="${h(safeRemoteHref(u) ?? '#')}" rel="noreferrer">${h(baseName(u))}</a>`,
    )
    .join(', ')}</p>`;
}

function inputBlock(input: JsonValue, ctx: PageContext, mode: 'full' | 'mini'): string {
  if (input === null) return '<p class="note">Not resolved (the stage never started).</p>';
  if (mode === 'mini') return miniInputs(input, ctx);
  const tiles: string[] = [];
  walkStrings(input, [], (value, path) => {
    const tile = inputTile(value, path, ctx);
    if (tile !== undefined) tiles.push(tile);
  });
  const out: string[] = [];
  if (tiles.length > 0) out.push(`<div class="tiles">${tiles.join('')}</div>`);
  if (isJsonObject(input)) {
    const prompt = input['prompt'];
    if (typeof prompt === 'string')
      out.push(`<blockquote class="prompt" data-field="prompt">${h(prompt)}</blockquote>`);
    const params = Object.entries(input).filter(([k, v]) => k !== 'prompt' && !holdsRef(v, ctx));
    if (params.length > 0)
      out.push(
        `<dl class="params">${params.map(([k, v]) => `<dt>${h(k)}</dt><dd>${h(shortJson(v))}</dd>`).join('')}</dl>`,
      );
  }
  return out.join('') || '<p class="note">No inputs.</p>';
}

/** A fan-out card's inputs: small thumbnails of local and upstream files, remote ones as links. */
function miniInputs(input: JsonValue, ctx: PageContext): string {
  const thumbs: string[] = [];
  const links: string[] = [];
  walkStrings(input, [], (value, path) => {
    const ref = ctx.inputRef(value);
    if (ref.kind === 'remote')
      links.push(
        `<a class="remote-link" href="${h(safeRemoteHref(ref.url) ?? '#')}" rel="noreferrer" title="${h(`${fieldPath(path)}: ${ref.url}`)}">${h(baseName(ref.url))}</a>`,
      );
    else if (ref.kind !== 'none' && thumbs.length < 3) thumbs.push(inputTile(value, path, ctx) ?? '');
  });
  if (thumbs.length === 0 && links.length === 0) return '';
  const shown = links.slice(0, 3).join(', ') + (links.length > 3 ? `, +${links.length - 3}` : '');
  return `<div class="inputs-mini">${thumbs.join('')}${links.length > 0 ? `<span class="caption">in: ${shown}</span>` : ''}</div>`;
}

function inputTile(value: string, path: readonly (string | number)[], ctx: PageContext): string | undefined {
  const caption = fieldPath(path);
  const ref = ctx.inputRef(value);
  switch (ref.kind) {
    case 'none':
      return undefined;
    case 'upstream':
      return fileTile(ref.path, `${caption} ← ${ref.stage}`, ctx, `${ref.stage} output`);
    case 'local':
      return fileTile(ref.path, caption, ctx, 'input file');
    case 'remote': {
      const kind = mediaKind(ref.url);
      const what = kind === 'other' ? 'remote file' : `remote ${kind}`;
      return `<figure class="tile"><a class="frame remote remote-link" href="${h(safeRemoteHref(ref.url) ?? '#')}" rel="noreferrer" title="${h(ref.url)}"><span class="kind">${what}</span>${h(baseName(ref.url))}</a><figcaption>${h(caption)} · not fetched</figcaption></figure>`;
    }
    default:
      return unreachable(ref);
  }
}

function outputTile(stage: string, file: string, ctx: PageContext): string {
  const path = ctx.outputPath(file);
  const prov = ctx.provenance(path);
  const extra = prov ? ` · <a href="${h(pathHref(prov.href))}">provenance</a>` : '';
  return fileTile(path, baseName(file), ctx, `${stage} output`, extra);
}

/** A local file as a tile: thumbnail, poster or link, always linking to the file itself. */
function fileTile(
  path: string,
  caption: string,
  ctx: PageContext,
  altPrefix: string,
  extraCaption = '',
): string {
  const href = h(pathHref(ctx.href(path)));
  const name = baseName(path);
  const preview = ctx.preview(path) ?? { kind: 'link' as const };
  const cap = `<figcaption>${h(caption)}${extraCaption}</figcaption>`;
  switch (preview.kind) {
    case 'image': {
      const t = preview.thumb;
      const tiny = t.width < 16 && t.height < 16 ? ' class="tiny"' : '';
      return `<figure class="tile"><a class="frame" href="${href}"><img src="${h(pathHref(t.href))}" width="${t.width}" height="${t.height}"${tiny} alt="${h(`${altPrefix} ${name}`)}" loading="lazy" decoding="async"></a>${cap}</figure>`;
    }
    case 'video': {
      const p = preview.poster;
      return `<figure class="tile"><div class="frame"><video controls preload="none" poster="${h(pathHref(p.href))}" src="${href}" width="${p.width}" height="${p.height}"></video></div><figcaption><a href="${href}">${h(caption)}</a>${extraCaption}</figcaption></figure>`;
    }
    case 'link': {
      const kind = mediaKind(path);
      return `<figure class="tile"><a class="frame remote" href="${href}" title="${h(preview.why ?? name)}"><span class="kind">${kind === 'other' ? 'file' : kind}</span>${h(name)}${preview.why ? `<small>${h(preview.why)}</small>` : ''}</a>${cap}</figure>`;
    }
    case 'missing':
      return `<figure class="tile"><div class="frame remote"><span class="kind">missing</span>${h(name)}</div>${cap}</figure>`;
    default:
      return unreachable(preview);
  }
}

function fanOutGrid(
  stage: RunStage,
  result: RecordedStage,
  items: readonly FanOutItem[],
  ctx: PageContext,
): string {
  const prompts = items.map((i) =>
    isJsonObject(i.input) && typeof i.input['prompt'] === 'string' ? i.input['prompt'] : undefined,
  );
  const samePrompt = prompts.every((p) => p === prompts[0]);
  const shared =
    samePrompt && prompts[0] !== undefined
      ? `<blockquote class="prompt" data-field="prompt">${h(prompts[0])}</blockquote>`
      : '';
  const outcomeClass = (o: FanOutItem['outcome']) => (o === 'unknown' ? 'not-run' : o);
  const cards = items.map((item, n) => {
    const outs = item.files.map((f) => outputTile(stage.id, f, ctx)).join('');
    const why =
      item.outcome === 'failed' && item.lastFailure?.message
        ? `<div class="why">${h(truncate(item.lastFailure.message, 200))}</div>`
        : '';
    const prompt =
      !samePrompt && prompts[n] !== undefined
        ? `<div class="caption">${h(truncate(prompts[n], 140))}</div>`
        : '';
    return `<figure class="item st-${outcomeClass(item.outcome)}" data-item="${item.item}" data-status="${outcomeClass(item.outcome)}"><div class="item-head"><b>#${item.item}</b><span class="badge st-${outcomeClass(item.outcome)}">${h(item.outcome === 'unknown' ? 'not finished' : item.outcome)}</span></div>${inputBlock(item.input, ctx, 'mini')}${outs === '' ? '' : `<div class="tiles">${outs}</div>`}${why}${prompt}</figure>`;
  });
  const done = items.filter((i) => i.outcome === 'succeeded').length;
  const cached = items.filter((i) => i.outcome === 'cached').length;
  const failed = items.filter((i) => i.outcome === 'failed').length;
  const unassigned =
    result.status === 'skipped' ? [] : result.files.filter((f) => !items.some((i) => i.files.includes(f)));
  const rest =
    unassigned.length === 0
      ? ''
      : `<h3>Other files</h3><div class="tiles">${unassigned.map((f) => outputTile(stage.id, f, ctx)).join('')}</div>`;
  const counts = [
    ...(done > 0 || cached === 0 ? [`${done} succeeded`] : []),
    ...(cached > 0 ? [`${cached} cached`] : []),
    ...(failed > 0 ? [`${failed} failed`] : []),
  ];
  return `<p class="note">${items.length} items: ${counts.join(', ')}.</p>${shared}<div class="grid">${cards.join('')}</div>${rest}`;
}

/** Consent subjects and disclosure label (from the recipe, and from provenance records where present). */
function consent(stage: RunStage, result: RecordedStage, ctx: PageContext): string {
  const records =
    result.status === 'skipped'
      ? []
      : result.files
          .map((f) => ctx.provenance(ctx.outputPath(f)))
          .filter((p): p is Provenance => p !== undefined);
  const subjects = [...new Set([...stage.subjects, ...records.flatMap((p) => p.subjects)])];
  const labels = [
    ...new Set([
      ...(stage.disclosure === undefined ? [] : [stage.disclosure]),
      ...records.flatMap((p) => (p.label === undefined ? [] : [p.label])),
    ]),
  ];
  if (records.length === 0 && subjects.length === 0 && labels.length === 0) return '';
  const links = records
    .slice(0, 20)
    .map((p) => `<a href="${h(pathHref(p.href))}">${h(baseName(p.href))}</a>`);
  return `<div class="consent"><b>Consent and disclosure</b><ul>
<li>subjects: ${subjects.length === 0 ? '<i>none recorded</i>' : subjects.map((s) => h(s)).join(', ')}</li>
<li>disclosure label: ${labels.length === 0 ? '<i>none recorded</i>' : labels.map((l) => `“${h(l)}”`).join(', ')}</li>
<li>provenance records: ${records.length === 0 ? '<i>none</i>' : `${links.join(', ')}${records.length > links.length ? `, … (${records.length})` : ''}`}</li>
</ul></div>`;
}

function attemptsTable(run: RunData, result: RecordedStage, fanOut: boolean): string {
  const start = Date.parse(run.record.startedAt);
  const rows = [...result.attempts]
    .sort((a, b) => a.startedAt - b.startedAt)
    .map((a: AttemptRecord) => {
      const why =
        a.outcome === 'failed'
          ? `${a.reason ? reasonText(a.reason) : 'failed'}${a.exitCode === undefined ? '' : ` (exit ${a.exitCode})`}`
          : '';
      return `<tr class="st-${a.outcome}"><td>${a.attempt}</td>${fanOut ? `<td>${a.item ?? ''}</td>` : ''}<td>${a.outcome}</td><td>${h(why)}</td><td class="mono">${h(a.requestId ?? '-')}${a.reattached ? ' (followed)' : ''}</td><td>+${h(formatDuration(Math.max(0, a.startedAt - start)))}</td><td>${h(formatDuration(Math.max(0, a.endedAt - a.startedAt)))}</td><td class="msg">${h(truncate(a.message ?? '', 300))}</td></tr>`;
    });
  const open = result.attempts.length <= 6 ? ' open' : '';
  return `<details class="attempts-box"${open}><summary>Attempts (${result.attempts.length})</summary><table class="attempts"><thead><tr><th>#</th>${fanOut ? '<th>item</th>' : ''}<th>outcome</th><th>why</th><th>request</th><th>start</th><th>time</th><th>message</th></tr></thead><tbody>${rows.join('')}</tbody></table></details>`;
}

/**
 * Calls `visit` for every string in a JSON value, with its path. The path array is reused as
 * the walk goes on: read it during the call, copy it to keep it (a 200-stage contact sheet
 * walks every input and output, and a new array per step was most of that walk's cost).
 */
export function walkStrings(
  value: JsonValue,
  path: (string | number)[],
  visit: (value: string, path: readonly (string | number)[]) => void,
): void {
  if (typeof value === 'string') visit(value, path);
  else if (Array.isArray(value)) {
    const list = value as readonly JsonValue[];
    for (let i = 0; i < list.length; i++) {
      path.push(i);
      walkStrings(list[i]!, path, visit);
      path.pop();
    }
  } else if (isJsonObject(value))
    for (const k in value) {
      path.push(k);
      walkStrings(value[k]!, path, visit);
      path.pop();
    }
}

function holdsRef(value: JsonValue, ctx: PageContext): boolean {
  let found = false;
  walkStrings(value, [], (s) => {
    if (ctx.inputRef(s).kind !== 'none') found = true;
  });
  return found;
}

function fieldPath(path: readonly (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || 'input';
}

function shortJson(value: JsonValue): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return truncate(text, 300);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
