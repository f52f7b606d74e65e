import { refusalText, screenPrompt } from '../../policy/prompt-screen.js';
import type { AnalysisContext } from '../context.js';
import type { StageId } from '../types.js';
import { placeOf, type StageSending, type VarOrigin } from './url-policy.js';

/**
 * The prompt screen at analysis time: every text a stage sends (prompts, descriptions), as far
 * as it is known before running, is screened (src/policy/prompt-screen.ts). A refusal is
 * `not-permitted` (exit 77) and underlines the words that decided it.
 */
export function checkPrompts(
  ctx: AnalysisContext,
  sending: ReadonlyMap<StageId, StageSending>,
  origin: VarOrigin,
): void {
  for (const { stage, values } of sending.values()) {
    for (const value of values) {
      if (value.media || value.origin.kind !== 'author') continue;
      const result = screenPrompt(value.value);
      if (!result.refused) continue;
      const reword =
        result.reason === 'sexual-minor'
          ? ''
          : '; the screen is a word list, not a judge of intent: if this is a false positive, reword the prompt (docs/consent.md)';
      const location = value.literal
        ? ctx.atText(value.at, value.value, result.offset, result.length)
        : ctx.at(value.at);
      const notes =
        value.fromVar !== undefined && !origin.isSet(value.fromVar)
          ? [
              {
                ...ctx.atText(['vars', value.fromVar], value.value, result.offset, result.length),
                message: `the text comes from var "${value.fromVar}", set here`,
              },
            ]
          : undefined;
      ctx.error(
        'prompt-refused',
        `${placeOf(stage, value)} ${refusalText(result.reason, result.matched)}${origin.suffix(value)}${reword}`,
        location,
        notes,
        'not-permitted',
      );
    }
  }
}
