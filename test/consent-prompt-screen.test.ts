/**
 * The prompt screen (issue 7): a guard rail, not a classifier. It refuses prompts that ask for
 * sexually explicit content or make the person a child (exit 77), and lets ordinary campaign
 * prompts through; the judgement calls are listed in src/policy/prompt-screen.ts and
 * docs/consent.md, and each has a case here.
 */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fold, normalise, screenPrompt } from '../src/policy/prompt-screen.js';
import { runCli } from './helpers/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('refused', () => {
  it.each([
    ['a nude portrait on the beach', 'sexual', 'nude'],
    ['Keep the pose, make the model topless', 'sexual', 'topless'],
    ['NSFW version of the ad', 'sexual', 'NSFW'],
    ['pornographic scene', 'sexual', 'pornographic'],
    ['remove her clothes', 'sexual', 'remove her clothes'],
    ['a man without clothes', 'sexual', 'without clothes'],
    ['explicit sex scene', 'sexual', 'sex'],
    ['n\u200Bude beach', 'sexual', 'n\u200Bude'],
    ['ｎｕｄｅ beach', 'sexual', 'ｎｕｄｅ'],
    ['N.U.D.E? no: NUDE', 'sexual', 'NUDE'],
    ['Make her look like a 12-year-old', 'minor', '12-year-old'],
    ['change the face to a 9 year old boy', 'minor', '9 year old'],
    ['Swap the face onto the child', 'minor', 'onto the child'],
    ['render him as a toddler', 'minor', 'as a toddler'],
    ['a little girl holding the product', 'minor', 'little girl'],
    ['the schoolgirl in the classroom', 'minor', 'schoolgirl'],
    ['put the face on an underage model', 'minor', 'underage'],
    // One per pattern family the MINOR_WORDS pre-check must let through.
    ['a prepubescent look', 'minor', 'prepubescent'],
    ['cast a pre-teen', 'minor', 'pre-teen'],
    ['the juvenile in the ad', 'minor', 'juvenile'],
    ['a model aged 9', 'minor', 'aged 9'],
    ['swap with a minor', 'minor', 'a minor'],
    ['only minors here', 'minor', 'minors'],
    ['turn them into the babies', 'minor', 'into the babies'],
    ['like a youngster', 'minor', 'like a youngster'],
    ['a 15 yr old', 'minor', '15 yr old'],
    ['photo of a child at the beach', 'minor', 'photo of a child'],
    ["use the kid's face", 'minor', "kid's face"],
    ['much younger, like a teenager', 'minor', 'younger, like a teenager'],
    ['a sexy teen', 'sexual-minor', 'sexy'],
    ['nude child', 'sexual-minor', 'nude'],
    ['a teenager in lingerie', 'sexual-minor', 'lingerie'],
  ])('%j (%s)', (prompt, reason, matched) => {
    const result = screenPrompt(prompt);
    expect(result).toMatchObject({ refused: true, reason, matched });
    if (result.refused) expect(prompt.slice(result.offset, result.offset + result.length)).toBe(matched);
  });
});

describe('let through (false positives the lists are written to avoid)', () => {
  it.each([
    // Children as part of a scene, not as the person swapped: the documented judgement call.
    "A product shot of the jacket, a child's toy in the background",
    "Put the face onto the poster in the kids' section",
    "photo of a child's drawing on the wall behind her",
    // Adult advertising vocabulary.
    'Keep pose, clothing, hair, lighting and background exactly. Change only the face to that of a 30-year-old woman with freckles and green eyes.',
    'A sexy red dress on the runway',
    'lingerie campaign, studio light, the model looks into the camera',
    'swimwear shoot on the beach',
    'a girl in a red dress',
    'The boy band on stage',
    // Words that contain or resemble the listed ones.
    'baby blue background',
    'minor retouching only',
    'no clothing changes, keep the scarf',
    'visible to the naked eye',
    'unisex sneakers in Sussex',
    'Replace the face in each image with the face shown in the first image. Keep all other elements - pose, clothing, lighting, background - unchanged.',
    'she is 18 years old',
    'aged 25, confident smile',
  ])('%j', (prompt) => {
    expect(screenPrompt(prompt)).toEqual({ refused: false });
  });
});

describe('validate', () => {
  it('refusals are located at the words, exit 77; the fine prompt passes', async () => {
    const result = await runCli(['validate', 'test/fixtures/consent/prompts.yaml'], { cwd: root });
    expect(result.code).toBe(77);
    expect(result.stderr).toBe(
      'test/fixtures/consent/prompts.yaml:18:45: error: input field "prompt" of stage "explicit" asks for sexually explicit content ("topless"); faceswap-pipe does not make sexual material with real people\'s faces, consent or not; the screen is a word list, not a judge of intent: if this is a false positive, reword the prompt (docs/consent.md)\n' +
        '   18 |       prompt: Keep the pose, make the model topless\n' +
        '      |                                             ~~~~~~~\n' +
        'test/fixtures/consent/prompts.yaml:24:15: error: input field "prompt" of stage "minor" makes the person a child ("12-year-old"); faceswap-pipe does not swap faces onto, into or as children; the screen is a word list, not a judge of intent: if this is a false positive, reword the prompt (docs/consent.md)\n' +
        '   24 |       prompt: ${{ vars.style }}\n' +
        '      |               ~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/prompts.yaml:5:31: note: the text comes from var "style", set here\n' +
        '   5 |   style: Make her look like a 12-year-old schoolgirl\n' +
        '     |                               ~~~~~~~~~~~\n' +
        '2 errors\n',
    );
  });
});

describe('folding', () => {
  it('the quick ASCII fold gives exactly the text the full normaliser gives', () => {
    const ascii = fc.string({ unit: fc.constantFrom(...'aZ09 -\'.,!?_\t\n"/:'.split('')), maxLength: 40 });
    fc.assert(fc.property(ascii, (text) => fold(text) === normalise(text).folded));
    fc.assert(fc.property(fc.string({ maxLength: 40 }), (text) => fold(text) === normalise(text).folded));
    expect(fold('  Hello,  World -- OK ')).toBe('hello world -- ok ');
  });
});
