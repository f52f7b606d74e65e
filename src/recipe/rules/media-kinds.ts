import type { ModelInfo } from '../../catalog/model.js';
import { knownExtensions, kindFromUrl, type MediaKind } from '../../plan/route-media.js';
import { modelRoles, moreItems, type SentValue } from '../../policy/sent-values.js';
import type { AnalysisContext } from '../context.js';
import type { ExpressionPart } from '../expressions.js';
import { describeRecipePath } from '../describe.js';
import type { StageId, StageSpec } from '../types.js';
import { templatesOf } from './build-stages.js';
import { placeOf, type StageSending, type VarOrigin } from './url-policy.js';

/**
 * An image where the model takes a video, or the other way round (Kling's character image and
 * reference video swapped, an audio track in Wan's image field), is known before running when
 * the value says what it is: a URL's file extension, or a reference to the results of a stage
 * whose model makes stills or videos. Left to run time, it is sent, refused by the service (or
 * worse, processed), after the stages before it were paid for. Values whose kind is not known
 * (no extension, an expression) are left alone.
 */
export function checkMediaKinds(
  ctx: AnalysisContext,
  sending: ReadonlyMap<StageId, StageSending>,
  stages: ReadonlyMap<StageId, StageSpec>,
  origin: VarOrigin,
  refused: ReadonlySet<SentValue>,
): void {
  for (const { stage, model, values } of sending.values()) {
    if (!model || stage.swap !== undefined) continue;
    const roles = modelRoles(model);
    // One problem per place: a `foreach` item written once (`scene: ${{ item }}`) would
    // otherwise repeat the same underline for every item of the list.
    const reported = new Map<string, { value: SentValue; message: string; more: number }>();
    for (const value of values) {
      if (value.root !== 'input' || !value.media || value.origin.kind !== 'author' || refused.has(value))
        continue;
      const takes = roles.mediaKind(value.field);
      const { kind: given, source } = kindFromUrl(value.value);
      if (takes === undefined || given === undefined || given === takes || source.by !== 'extension')
        continue;
      // ffmpeg reads animated GIF and WebP as video (the offline video engine takes them).
      if (takes === 'video' && ANIMATED.has(source.extension)) continue;
      const place = `${value.at.join('\0')}\0${value.field.join('\0')}`;
      const seen = reported.get(place);
      if (seen) {
        seen.more++;
        continue;
      }
      const what = model.backend === 'local' ? pathOf(takes) : urlOf(takes);
      reported.set(place, {
        value,
        more: 0,
        message: `${placeOf(stage, value)} takes ${article(takes)}, but ${value.value} is ${article(given)} (by its extension .${source.extension}); give ${what} (${knownExtensions(takes).join(', ')})${origin.suffix(value)}`,
      });
    }
    for (const { value, message, more } of reported.values()) {
      const others = moreItems(more, value.itemCount ?? 0, 'foreach item', ' here');
      ctx.error('media-kind-mismatch', `${message}${others}`, ctx.at(value.at), origin.notes(ctx, value));
    }
    checkUpstreamKinds(ctx, stage, model, stages);
  }
}

/** Extensions of images that can be animations, which video readers take as video. */
const ANIMATED = new Set(['gif', 'webp']);

/** `${{ stages.X.outputs… }}` as a whole value, where X's model makes the other kind of media. */
function checkUpstreamKinds(
  ctx: AnalysisContext,
  stage: StageSpec,
  model: ModelInfo,
  stages: ReadonlyMap<StageId, StageSpec>,
): void {
  const roles = modelRoles(model);
  for (const { template, path } of templatesOf(stage.input)) {
    if (!template.whole) continue;
    const part = template.parts[0] as ExpressionPart;
    if (part.references.length !== 1) continue;
    const [reference] = part.references;
    if (reference!.context !== 'stages' || reference!.path[1] !== 'outputs') continue;
    const upstream = stages.get(reference!.path[0] as StageId);
    const made = upstream?.model === undefined ? undefined : ctx.catalog.get(upstream.model);
    // A fan-out stage's outputs are a list of its items' outputs: only a reference into one
    // item (`outputs[0].images[0]`) is a picture or a video.
    if (!upstream || !made || (upstream.foreach && reference!.path.length < 3)) continue;
    const given: MediaKind = made.medium === 'video' ? 'video' : 'image';
    const takes = roles.mediaKind(path.slice(3));
    if (takes === undefined || takes === given) continue;
    ctx.error(
      'media-kind-mismatch',
      `${describeRecipePath(path)} takes ${article(takes)}, but stage "${upstream.id}" makes ${given === 'video' ? 'videos' : 'stills'} (${made.id}); give it ${remedy(takes, model.backend === 'local')}`,
      ctx.at(path),
    );
  }
}

/** What to give a field of this kind instead: another stage's results, or a URL (a file, offline). */
function remedy(kind: MediaKind, local: boolean): string {
  const direct = local ? pathOf(kind) : urlOf(kind);
  if (kind === 'audio') return direct;
  return `${article(kind)}: the results of a stage that makes ${kind === 'video' ? 'videos' : 'stills'}, or ${direct}`;
}

function pathOf(kind: MediaKind): string {
  return withArticle(`${kind} file`);
}

function urlOf(kind: MediaKind): string {
  return withArticle(`${kind} URL`);
}

function article(kind: MediaKind): string {
  return withArticle(kind === 'audio' ? 'audio file' : kind);
}

function withArticle(words: string): string {
  return `${/^[aeiou]/.test(words) ? 'an' : 'a'} ${words}`;
}
