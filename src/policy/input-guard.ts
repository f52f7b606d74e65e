import type { ModelInfo } from '../catalog/model.js';
import { describeRecipePath } from '../recipe/describe.js';
import type { Recipe, StageSpec } from '../recipe/types.js';
import { isJsonObject, type JsonValue } from '../util/json.js';
import { coverageOf, identitySubjects, readConsent, type ConsentRecord } from './consent.js';
import { refusalText, screenPrompt } from './prompt-screen.js';
import { resolvedSentValues } from './sent-values.js';
import { checkSentValue, type Receiver } from './url-policy.js';

/**
 * The run-time half of the trust boundary. Analysis checks what the recipe's author wrote;
 * here every job body, once upstream outputs are substituted, is checked again just before it
 * is submitted: the URL policy for every URL (an upstream model may return anything), the
 * prompt screen for every text, and, when the recipe's consent is given, coverage of every
 * value that is not verbatim an upstream output (a template mixing vars and stage outputs
 * cannot slip an unrecorded asset through).
 */
export interface InputPolicy {
  readonly allowInsecureLocal: boolean;
  /** The recipe's consent block; without it only the URL policy and the prompt screen apply. */
  readonly consent?: ConsentRecord;
  /** The recipe's folder: local paths the author wrote must stay inside it. */
  readonly recipeDir?: string;
}

/** What a run uses when nobody says otherwise: no loopback, no consent coverage re-check. */
export const STRICT_INPUT_POLICY: InputPolicy = { allowInsecureLocal: false };

/** The policy for a run of `recipe` (what the runner passes to stage-input resolution). */
export function inputPolicyFor(
  recipe: Pick<Recipe, 'consent'>,
  options: { readonly allowInsecureLocal?: boolean; readonly recipeDir: string },
): InputPolicy {
  const consent = readConsent(recipe.consent);
  return {
    allowInsecureLocal: options.allowInsecureLocal ?? false,
    recipeDir: options.recipeDir,
    ...(consent && { consent }),
  };
}

/** Every string in finished stages' outputs and files: values verbatim among them are upstream outputs. */
export function upstreamStrings(
  views: Iterable<{ readonly outputs: JsonValue; readonly files: readonly string[] }>,
): Set<string> {
  const out = new Set<string>();
  const visit = (value: JsonValue): void => {
    if (typeof value === 'string') out.add(value);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (isJsonObject(value)) Object.values(value).forEach(visit);
  };
  for (const view of views) {
    visit(view.outputs);
    view.files.forEach((f) => out.add(f));
  }
  return out;
}

/**
 * Checks one resolved job body; returns the first problem (the stage fails before anything is
 * submitted), or undefined. `notPermitted`: consent or the prompt screen refuses it (77), not the
 * URL policy (invalid data).
 */
export function guardBody(
  stage: StageSpec,
  model: ModelInfo,
  body: JsonValue,
  item: number | undefined,
  upstream: ReadonlySet<string>,
  policy: InputPolicy,
): { readonly message: string; readonly notPermitted: boolean } | undefined {
  const refuse = (message: string) => ({ message, notPermitted: true });
  const where = (field: readonly (string | number)[]) => {
    const place = describeRecipePath(['stages', stage.id, 'input', ...field]);
    return item === undefined ? place : `${place} (foreach item ${item})`;
  };
  const faceSwap = model.faceSwap || stage.swap !== undefined;
  for (const value of resolvedSentValues(stage, model, body, item)) {
    const fromUpstream = upstream.has(value.value);
    const origin =
      value.origin.kind === 'upstream'
        ? `; the value comes from stage ${value.origin.stages.map((s) => `"${s}"`).join(', ')}`
        : '';
    if (!value.media) {
      const screen = screenPrompt(value.value);
      if (screen.refused)
        return refuse(`${where(value.field)} ${refusalText(screen.reason, screen.matched)}${origin}`);
      continue;
    }
    const receiver: Receiver =
      model.backend === 'local'
        ? { kind: 'local', model: model.id, recipeDir: fromUpstream ? undefined : policy.recipeDir }
        : { kind: 'hosted', model: model.id };
    const problem = checkSentValue(value.value, receiver, policy);
    if (problem) return { message: `${where(value.field)} ${problem.reason}${origin}`, notPermitted: false };
    if (!policy.consent || !faceSwap || fromUpstream) continue;
    const coverage = coverageOf(policy.consent, value.value, stage.subjects, policy.recipeDir ?? '.');
    // The face swapped in must be a recorded image of a subject the stage names, whatever the
    // value came through (a foreach item, a var, --set), as in validate: an asset rule covers the
    // material, not the person.
    const subjects = value.identity ? identitySubjects(policy.consent, stage.subjects) : undefined;
    if (subjects !== undefined && coverage.kind !== 'subject-image')
      return refuse(
        `${where(value.field)} sends "${value.value}" as the identity (the face swapped in), but it is not one of the images recorded for ${subjects.map((s) => `subject "${s}"`).join(' or ')}; add it to that subject's consent.subjects.<id>.images if it is their face${origin}`,
      );
    if (coverage.kind === 'none')
      return refuse(
        `${where(value.field)} sends "${value.value}", which is neither an output of an earlier stage nor covered by a consent.assets rule${origin}`,
      );
  }
  return undefined;
}
