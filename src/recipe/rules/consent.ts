import { dirname, resolve } from 'node:path';
import {
  coverageOf,
  identitySubjects,
  localToday,
  isExpired,
  isRealDate,
  readConsent,
  subjectImageMatch,
  type ConsentRecord,
} from '../../policy/consent.js';
import { hasScheme } from '../../policy/glob.js';
import type { SentValue } from '../../policy/sent-values.js';
import { isJsonObject, type JsonValue } from '../../util/json.js';
import { didYouMean } from '../../util/suggest.js';
import type { AnalysisContext } from '../context.js';
import type { RelatedLocation } from '../diagnostic.js';
import type { StageId, StageSpec } from '../types.js';
import { checkMediaKinds } from './media-kinds.js';
import { checkPrompts } from './prompt-screen.js';
import {
  checkUrlPolicy,
  placeOf,
  sentByStage,
  VarOrigin,
  type RefusedValues,
  type StageSending,
} from './url-policy.js';

export interface ConsentRuleOptions {
  /** The folder local paths and local globs are relative to. */
  readonly recipeDir: string;
  /** `YYYY-MM-DD`; releases that expired before this day are refused. */
  readonly today: string;
  readonly origin: VarOrigin;
  /** Values the URL policy already refused (not reported twice). */
  readonly refused: RefusedValues;
}

/**
 * Consent as data (issue 7). A recipe with a face-swapping stage (a catalog model marked
 * `faceSwap`, or any `swap:` stage) must carry a `consent:` block with a disclosure label; each
 * such stage names the `subjects` whose faces it uses, each recorded with an unexpired release;
 * every URL or local file the recipe's author sends to a model is covered by an `assets` rule
 * (or is an identity image of a named subject); and where a subject lists `images`, the stage's
 * identity images are among them. Values from upstream stages are exempt: the run made them.
 *
 * Every problem is `not-permitted` (exit 77; 65 still wins when the recipe is also invalid),
 * located, and says which record to add. Nothing skips these checks: a team that does not want
 * them writes the record.
 */
export function checkConsent(
  ctx: AnalysisContext,
  data: Record<string, unknown>,
  sending: ReadonlyMap<StageId, StageSending>,
  options: ConsentRuleOptions,
): void {
  const faceStages = [...sending.values()].filter(swapsFaces);
  const raw = data['consent'];
  const consent = readConsent(raw as JsonValue | undefined);
  if (!consent) {
    const [first, ...others] = faceStages;
    if (!first) return;
    ctx.error(
      'consent-missing',
      `${swapPhrase(first)}, but the recipe has no consent: block; add one that records the people whose faces are used (consent.subjects, each with a release reference), the rights to the material (consent.assets) and the disclosure label (consent.disclosure.label), and name the subjects in each face-swap stage (docs/consent.md)`,
      ctx.at(['stages', first.stage.id], true),
      others.map((s) => ({ ...ctx.at(['stages', s.stage.id], true), message: `${swapPhrase(s)} too` })),
      'not-permitted',
    );
    return;
  }
  if (consent.label === undefined && faceStages.length > 0) {
    const disclosure = isJsonObject(raw) ? raw['disclosure'] : undefined;
    ctx.error(
      'disclosure-missing',
      'the consent block has no disclosure label; add "disclosure: {label: AI-generated}" under consent:, worded as the destination platform requires (it is written into every output)',
      disclosure === undefined ? ctx.at(['consent'], true) : ctx.at(['consent', 'disclosure'], true),
      undefined,
      'not-permitted',
    );
  }
  checkSubjects(ctx, data, consent, [...sending.values()], faceStages, options.today);
  if (faceStages.length === 0) return;
  for (const sent of sending.values()) checkValues(ctx, consent, sent, options);
}

/** A stage's `subjects` as written, before any reading of it. */
function writtenSubjects(data: Record<string, unknown>, id: StageId): unknown {
  const stages = data['stages'];
  const stage = isJsonObject(stages) ? stages[id] : undefined;
  return isJsonObject(stage) ? stage['subjects'] : undefined;
}

function swapsFaces(sent: StageSending): boolean {
  return sent.stage.swap !== undefined || sent.model?.faceSwap === true;
}

function swapPhrase(sent: StageSending): string {
  const how =
    sent.stage.swap !== undefined && sent.stage.model === undefined ? 'swap:' : (sent.model?.id ?? 'swap:');
  return `stage "${sent.stage.id}" swaps a face (${how})`;
}

function checkSubjects(
  ctx: AnalysisContext,
  data: Record<string, unknown>,
  consent: ConsentRecord,
  all: readonly StageSending[],
  faceStages: readonly StageSending[],
  today: string,
): void {
  const recorded = [...consent.subjects.keys()];
  for (const sent of faceStages) {
    const { stage } = sent;
    if (stage.subjects.length > 0) continue;
    const example = recorded[0] ?? '<id>';
    const tail =
      recorded.length > 0
        ? ` (consent.subjects records ${recorded.map((id) => `"${id}"`).join(', ')})`
        : `; consent.subjects records nobody yet: add each person with the reference to their signed release, e.g. "${example}: {release: REL-2026-0042}"`;
    const written = ctx.index.keyRanges(['stages', stage.id]).has('subjects');
    // A "subjects" that is not a list (an expression, a number) is reported by the recipe
    // schema; "names no subjects" at the same place would contradict what the author wrote.
    if (written && !Array.isArray(writtenSubjects(data, stage.id))) continue;
    // Subjects from a YAML 1.2 merge key (`<<: *stage`) have the advice to write "%YAML 1.1".
    if (!written && ctx.mergeGives(['stages', stage.id], 'subjects')) continue;
    ctx.error(
      'subjects-missing',
      `${swapPhrase(sent)} but names no subjects; add "subjects: [${example}]" to the stage, naming the consent.subjects entry of each person whose face it uses${tail}`,
      written ? ctx.at(['stages', stage.id, 'subjects']) : ctx.at(['stages', stage.id], true),
      undefined,
      'not-permitted',
    );
  }
  // Subjects used by stages: unknown ids, expired releases (places are looked up only when needed).
  const usedBy = new Map<string, { stage: StageId; index: number }[]>();
  for (const { stage } of all) {
    stage.subjects.forEach((id, index) => {
      if (!consent.subjects.has(id)) {
        const hint = id.includes('${{')
          ? '; expressions are evaluated only in input, swap and foreach: name the subject ids recorded under consent.subjects'
          : didYouMean(id, recorded) ||
            `; add "${id}: {release: <reference to the signed release>}" under consent.subjects`;
        ctx.error(
          'unknown-subject',
          `stage "${stage.id}" names subject "${id}", which consent.subjects does not record${hint}`,
          ctx.at(['stages', stage.id, 'subjects', index]),
          undefined,
          'not-permitted',
        );
        return;
      }
      const list = usedBy.get(id) ?? [];
      list.push({ stage: stage.id, index });
      usedBy.set(id, list);
    });
  }
  for (const subject of consent.subjects.values()) {
    if (subject.expires === undefined) continue;
    const at = ctx.at(['consent', 'subjects', subject.id, 'expires']);
    if (!isRealDate(subject.expires)) {
      // Not YYYY-MM-DD at all: the schema said so already.
      if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(subject.expires)) continue;
      ctx.error(
        'invalid-value',
        `"expires" of subject "${subject.id}" is not a real date (${subject.expires}); write it as YYYY-MM-DD`,
        at,
      );
      continue;
    }
    const users = usedBy.get(subject.id);
    if (!users || !isExpired(subject.expires, today)) continue;
    const release = subject.release === undefined ? '' : ` (${subject.release})`;
    ctx.error(
      'release-expired',
      `the release of subject "${subject.id}"${release} expired on ${subject.expires}; renew it and update "expires", or stop using this person's face`,
      at,
      users.map(({ stage, index }) => ({
        ...ctx.at(['stages', stage, 'subjects', index]),
        message: `stage "${stage}" uses subject "${subject.id}" here`,
      })),
      'not-permitted',
    );
  }
}

function checkValues(
  ctx: AnalysisContext,
  consent: ConsentRecord,
  sent: StageSending,
  options: ConsentRuleOptions,
): void {
  const { stage, values } = sent;
  const named = stage.subjects.filter((id) => consent.subjects.has(id));
  // A named subject that lists no images may be the face in any identity image.
  const withImages = identitySubjects(consent, stage.subjects);
  for (const value of values) {
    if (!value.media || value.origin.kind !== 'author' || options.refused.has(value)) continue;
    if (value.identity && swapsFaces(sent) && withImages !== undefined) {
      const matched = withImages.some(
        (id) => subjectImageMatch(consent.subjects.get(id)!, value.value, options.recipeDir) !== undefined,
      );
      if (!matched) {
        reportIdentity(ctx, stage, value, withImages, options);
        continue;
      }
    }
    if (coverageOf(consent, value.value, named, options.recipeDir).kind !== 'none') continue;
    const rule = suggestMatch(value.value);
    ctx.error(
      'asset-not-covered',
      `"${value.value}" (${placeOf(stage, value)}) is not covered by any consent.assets rule${options.origin.suffix(value)}; record the rights to it under consent.assets, e.g. "- {match: '${rule}', rights: <owner or licence>}"`,
      ctx.at(value.at),
      options.origin.notes(ctx, value),
      'not-permitted',
    );
  }
}

function reportIdentity(
  ctx: AnalysisContext,
  stage: StageSpec,
  value: SentValue,
  subjects: readonly string[],
  options: ConsentRuleOptions,
): void {
  const whose =
    subjects.length === 1
      ? `subject "${subjects[0]}"`
      : `subjects ${subjects.map((s) => `"${s}"`).join(', ')}`;
  const where =
    subjects.length === 1 ? `consent.subjects.${subjects[0]}.images` : 'the images of one of them';
  const notes: RelatedLocation[] = [
    ...(options.origin.notes(ctx, value) ?? []),
    ...subjects.map((id) => ({
      ...ctx.at(['consent', 'subjects', id, 'images']),
      message: `the images recorded for subject "${id}"`,
    })),
  ];
  ctx.error(
    'identity-not-subject',
    `identity image "${value.value}" (${placeOf(stage, value)}) is not one of the images recorded for ${whose}${options.origin.suffix(value)}; add it to ${where} if it is their face, or name the subject whose face it is in the stage's subjects`,
    ctx.at(value.at),
    notes,
    'not-permitted',
  );
}

/** A glob covering the value's folder: `https://host/path/**` or `assets/**`. */
function suggestMatch(value: string): string {
  if (hasScheme(value)) {
    try {
      const url = new URL(value);
      const folder = url.pathname.slice(0, url.pathname.lastIndexOf('/') + 1);
      return `${url.protocol}//${url.host}${folder}**`;
    } catch {
      return value;
    }
  }
  const slash = value.replace(/\\/g, '/').lastIndexOf('/');
  return slash < 0 ? value : `${value.slice(0, slash + 1)}**`;
}

/** What the policy rules need from the analysis options. */
export interface PolicyOptions {
  readonly cwd?: string;
  readonly allowInsecureLocal?: boolean;
  readonly today?: string;
}

/**
 * The policy rules in order, sharing one evaluation of what each stage sends: the URL policy
 * and the kinds of media (invalid data, 65), the prompt screen and consent (not permitted, 77).
 */
export function checkPolicies(
  ctx: AnalysisContext,
  data: Record<string, unknown>,
  stages: ReadonlyMap<StageId, StageSpec>,
  declared: Readonly<Record<string, JsonValue>>,
  vars: Readonly<Record<string, JsonValue>>,
  options: PolicyOptions,
): void {
  const recipeDir = dirname(resolve(options.cwd ?? '', ctx.source.path));
  const origin = new VarOrigin(declared, vars);
  const sending = sentByStage(ctx.catalog, stages, vars, ctx.brokenValues, ctx.expressionVarValues);
  const refused = checkUrlPolicy(ctx, sending, {
    allowInsecureLocal: options.allowInsecureLocal ?? false,
    recipeDir,
    origin,
  });
  checkMediaKinds(ctx, sending, stages, origin, refused);
  checkPrompts(ctx, sending, origin);
  checkConsent(ctx, data, sending, { recipeDir, today: options.today ?? localToday(), origin, refused });
}
