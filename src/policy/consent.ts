import { isJsonObject, type JsonValue } from '../util/json.js';
import { compileGlob, matchKeys, type GlobMatcher } from './glob.js';

/**
 * A recipe's `consent:` block, read leniently (the recipe schema reports wrong shapes; here a
 * wrong-typed entry is simply absent). It records three confirmations the product brief asks
 * for before any face is swapped: rights to the faces put in (`subjects`, each with a signed
 * release), rights to the material they go into (`assets`), and the label the destination
 * platform needs (`disclosure.label`).
 */
export interface ConsentRecord {
  /** By id, in the order written. */
  readonly subjects: ReadonlyMap<string, ConsentSubject>;
  readonly assets: readonly AssetRule[];
  /** `disclosure.label`; undefined when missing or empty. */
  readonly label: string | undefined;
}

export interface ConsentSubject {
  readonly id: string;
  /** Reference to the signed release (required by the schema). */
  readonly release: string | undefined;
  /** Globs of this person's identity images; empty when the subject lists none (then any image is accepted as theirs). */
  readonly images: readonly GlobMatcher[];
  /** `YYYY-MM-DD`; the release holds through this day. */
  readonly expires: string | undefined;
  readonly scope: readonly string[];
}

export interface AssetRule {
  /** 0-based position under `consent.assets`, for messages and records. */
  readonly index: number;
  readonly match: GlobMatcher;
  readonly rights: string;
}

export function readConsent(raw: JsonValue | undefined): ConsentRecord | undefined {
  if (!isJsonObject(raw)) return undefined;
  const subjects = new Map<string, ConsentSubject>();
  if (isJsonObject(raw['subjects'])) {
    for (const [id, entry] of Object.entries(raw['subjects'])) {
      const s = isJsonObject(entry) ? entry : {};
      subjects.set(id, {
        id,
        release: nonEmpty(s['release']),
        images: strings(s['images']).map(compileGlob),
        expires: nonEmpty(s['expires']),
        scope: strings(s['scope']),
      });
    }
  }
  const assets: AssetRule[] = [];
  // One rule written as a mapping (not a list of one) is reported by the recipe schema; it is
  // read as meant, so the values it covers are not each reported "not covered" as well.
  const rules = Array.isArray(raw['assets'])
    ? (raw['assets'] as readonly JsonValue[])
    : isJsonObject(raw['assets'])
      ? [raw['assets']]
      : undefined;
  if (rules) {
    rules.forEach((entry, index) => {
      if (!isJsonObject(entry)) return;
      const match = nonEmpty(entry['match']);
      if (match === undefined) return;
      assets.push({ index, match: compileGlob(match), rights: nonEmpty(entry['rights']) ?? '' });
    });
  }
  const disclosure = isJsonObject(raw['disclosure']) ? raw['disclosure'] : {};
  return { subjects, assets, label: nonEmpty(disclosure['label'])?.trim() || undefined };
}

/**
 * Why a value sent to a model is allowed to be sent, as provenance records it:
 * - `asset`: an `assets` rule covers it (rights to the material);
 * - `subject-image`: it is one of the `images` of a subject the stage names (that person's release);
 * - `upstream`: it is an output of an earlier stage of the same run;
 * - `none`: nothing covers it (analysis refuses such recipes; a record saying `none` is a bug or a
 *   value that only appeared at run time).
 */
export type Coverage =
  | { readonly kind: 'asset'; readonly rule: number; readonly match: string; readonly rights: string }
  | {
      readonly kind: 'subject-image';
      readonly subject: string;
      readonly release: string | null;
      readonly match: string;
    }
  | { readonly kind: 'upstream'; readonly stages: readonly string[] }
  | { readonly kind: 'none' };

/** The first `assets` rule that covers a value, if any. */
export function assetCovering(
  consent: ConsentRecord,
  value: string,
  recipeDir: string,
): AssetRule | undefined {
  const keys = matchKeys(value, recipeDir);
  return consent.assets.find((rule) => keys.some((key) => rule.match.matches(key)));
}

/** The glob of a subject's `images` that a value matches, if any. */
export function subjectImageMatch(
  subject: ConsentSubject,
  value: string,
  recipeDir: string,
): GlobMatcher | undefined {
  const keys = matchKeys(value, recipeDir);
  return subject.images.find((glob) => keys.some((key) => glob.matches(key)));
}

/**
 * The subjects whose recorded images an identity image sent by a stage naming `subjects` must
 * be one of; undefined when any image may be the face (a named subject lists no images).
 */
export function identitySubjects(consent: ConsentRecord, subjects: readonly string[]): string[] | undefined {
  const named = subjects.filter((id) => consent.subjects.has(id));
  const withImages = named.filter((id) => consent.subjects.get(id)!.images.length > 0);
  return named.length === 0 || withImages.length < named.length ? undefined : withImages;
}

/**
 * What covers an author-provided value sent by a stage naming `subjects`: an identity image
 * of one of those subjects first (their release is the stronger record), then an asset rule.
 */
export function coverageOf(
  consent: ConsentRecord,
  value: string,
  subjects: readonly string[],
  recipeDir: string,
): Coverage {
  for (const id of subjects) {
    const subject = consent.subjects.get(id);
    if (!subject) continue;
    const glob = subjectImageMatch(subject, value, recipeDir);
    if (glob)
      return { kind: 'subject-image', subject: id, release: subject.release ?? null, match: glob.pattern };
  }
  const rule = assetCovering(consent, value, recipeDir);
  if (rule) return { kind: 'asset', rule: rule.index, match: rule.match.pattern, rights: rule.rights };
  return { kind: 'none' };
}

/** True when a release has expired by `today` (both `YYYY-MM-DD`; the expiry day itself still counts). */
export function isExpired(expires: string, today: string): boolean {
  return expires < today;
}

/** True for a real calendar date written `YYYY-MM-DD`. */
export function isRealDate(text: string): boolean {
  const match = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
  if (!match) return false;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Today's date on this machine's calendar, `YYYY-MM-DD` (releases are dated in local terms). */
export function localToday(now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function nonEmpty(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function strings(value: JsonValue | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
}
