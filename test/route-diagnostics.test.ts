/**
 * Each combination the brief's routing table cannot serve gives its documented diagnostic, as
 * the exact text `faceswap-pipe validate` prints: file:line:col, the source line, the underline,
 * and the notes for the other fields involved. docs/recipes.md ("Routing") lists them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalize, runCli } from './helpers/cli.js';

/**
 * Appended to every recipe (after its last stage, so no line moves): the consent record that
 * face-swap stages need, so the only problems left are the router's.
 */
const SUBJECTS = '    subjects: [p]\n';
const CONSENT = `consent:
  subjects:
    p: {release: REL-1}
  assets:
    - {match: "https://assets.example.com/**", rights: owned}
    - {match: "https://cdn.example.com/**", rights: owned}
  disclosure: {label: AI-generated}
`;

const dir = mkdtempSync(join(tmpdir(), 'route-diagnostics-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function validate(
  name: string,
  text: string,
  extra: readonly string[] = [],
): Promise<{ code: number; stderr: string; stdout: string }> {
  writeFileSync(join(dir, name), `${text}${SUBJECTS}${CONSENT}`);
  const result = await runCli(['validate', name, ...extra], { cwd: dir });
  return { code: result.code, stdout: result.stdout, stderr: normalize(result.stderr, [dir]) };
}

const cases: { name: string; recipe: string; stderr: string }[] = [
  {
    name: 'audio-and-video.yaml',
    recipe: `version: 1
name: talk
stages:
  talk:
    swap:
      identity: https://assets.example.com/leo.jpg
      audio: https://assets.example.com/voice.mp3
      video: https://assets.example.com/take.mp4
`,
    stderr: `audio-and-video.yaml:5:5: error: stage "talk" gives both "audio" and "video", and no route takes both: Wan 2-2 Animate (community/wan-2-2-animate/api) is driven by a voice track and takes no reference video; Kling 2-6 Motion Control Pro (kling/kling-2-6/motion-control-pro) keeps a reference video's motion and takes no voice track. Remove "video" to route to Wan 2-2 Animate, or remove "audio" to route to Kling 2-6 Motion Control Pro
   5 |     swap:
     |     ~~~~
audio-and-video.yaml:7:7: note: the voice track is here
   7 |       audio: https://assets.example.com/voice.mp3
     |       ~~~~~
audio-and-video.yaml:8:7: note: the reference video is here
   8 |       video: https://assets.example.com/take.mp4
     |       ~~~~~
1 error
`,
  },
  {
    name: 'talking-head.yaml',
    recipe: `version: 1
name: talk
stages:
  talk:
    swap:
      identity: https://assets.example.com/leo.jpg
      scene: https://assets.example.com/studio.jpg
      audio: https://assets.example.com/voice.mp3
`,
    stderr: `talking-head.yaml:7:7: error: stage "talk" is a talking head: it asks for the face put into "scene" and the result made to speak "audio" in one pass, which no route here does (face and voice in one pass is the ai-avatar-video skill's OmniHuman, outside faceswap-pipe). Split it into two stages: a swap with "identity" and "scene" (GPT Image 2 Edit), then a swap with "identity: \${{ stages.<first stage>.outputs.images[0] }}" and "audio" (Wan 2-2 Animate); or remove "scene" to let Wan 2-2 Animate animate the identity image itself
   7 |       scene: https://assets.example.com/studio.jpg
     |       ~~~~~
talking-head.yaml:8:7: note: the voice track is here
   8 |       audio: https://assets.example.com/voice.mp3
     |       ~~~~~
1 error
`,
  },
  {
    name: 'video-without-driver.yaml',
    recipe: `version: 1
name: clip
stages:
  clip:
    swap:
      identity: https://assets.example.com/leo.jpg
      output: video
`,
    stderr: `video-without-driver.yaml:7:15: error: stage "clip" asks for "output: video" but gives neither "audio" nor "video": add "audio", a voice track that drives the mouth (routes to community/wan-2-2-animate/api), or "video", a reference performance whose motion to keep (routes to kling/kling-2-6/motion-control-pro); or ask for "output: still"
   7 |       output: video
     |               ~~~~~
1 error
`,
  },
  {
    name: 'prose-batch.yaml',
    recipe: `version: 1
name: looks
stages:
  looks:
    swap:
      describe: a 40-year-old man with a grey beard
      scene:
        - https://assets.example.com/look-1.jpg
        - https://assets.example.com/look-2.jpg
`,
    stderr: `prose-batch.yaml:8:9: error: stage "looks" gives "describe" with 2 scenes, but FLUX Kontext Pro (blackforestlabs/flux-1-kontext/pro/edit), the route for a face in prose, edits one image per call: give "identity" (an image of the face) to batch them on Nano Banana 2 Edit (google/nano-banana-2/edit), or run one job per scene with "foreach: <the scene list>" and "scene: \${{ item }}"
   8 |         - https://assets.example.com/look-1.jpg
     |         ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error
`,
  },
  {
    name: 'prose-video.yaml',
    recipe: `version: 1
name: clip
stages:
  clip:
    swap:
      describe: a tall man
      video: https://assets.example.com/take.mp4
`,
    stderr: `prose-video.yaml:6:7: error: stage "clip" wants a video, but the video routes animate an image of the character and "describe" is prose: give "identity" (an image), or make the face first in a stage whose swap has "scene" and "describe" (FLUX Kontext Pro) and use \${{ stages.<that stage>.outputs.images[0] }} as "identity" here (recipes/describe-then-dance.yaml chains the two)
   6 |       describe: a tall man
     |       ~~~~~~~~
1 error
`,
  },
  {
    name: 'flux-pinned.yaml',
    recipe: `version: 1
name: gallery
vars:
  scenes: [https://assets.example.com/a.jpg, https://assets.example.com/b.jpg, https://assets.example.com/c.jpg,
    https://assets.example.com/d.jpg, https://assets.example.com/e.jpg, https://assets.example.com/f.jpg,
    https://assets.example.com/g.jpg, https://assets.example.com/h.jpg, https://assets.example.com/i.jpg,
    https://assets.example.com/j.jpg, https://assets.example.com/k.jpg, https://assets.example.com/l.jpg]
stages:
  gallery:
    model: blackforestlabs/flux-1-kontext/pro/edit
    swap:
      identity: https://assets.example.com/ana.jpg
      scene: \${{ vars.scenes }}
`,
    stderr: `flux-pinned.yaml:10:12: error: stage "gallery" pins blackforestlabs/flux-1-kontext/pro/edit, which cannot serve this swap: FLUX Kontext Pro takes no identity image: it changes the face to a prose "describe"; Nano Banana 2 Edit (google/nano-banana-2/edit) serves it: pin that, or remove "model" to let the router choose
   10 |     model: blackforestlabs/flux-1-kontext/pro/edit
      |            ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error
`,
  },
  {
    name: 'unknown-medium.yaml',
    recipe: `version: 1
name: hero
stages:
  hero:
    swap:
      identity: https://assets.example.com/ana.jpg
      scene: https://cdn.example.com/asset/8841
`,
    stderr: `unknown-medium.yaml:7:14: error: cannot tell what kind of media "scene" of stage "hero" is (the URL has no file extension); a scene must be a still: write it as {url: https://cdn.example.com/asset/8841, medium: image}
   7 |       scene: https://cdn.example.com/asset/8841
     |              ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error
`,
  },
  {
    name: 'still-with-video.yaml',
    recipe: `version: 1
name: still
stages:
  still:
    swap:
      identity: https://assets.example.com/ana.jpg
      video: https://assets.example.com/take.mp4
      output: still
`,
    stderr: `still-with-video.yaml:8:15: error: stage "still" asks for "output: still" but gives "video": a voice track and a reference video drive video routes only; remove "video", or ask for "output: video"
   8 |       output: still
     |               ~~~~~
still-with-video.yaml:7:7: note: the reference video is here
   7 |       video: https://assets.example.com/take.mp4
     |       ~~~~~
1 error
`,
  },
  {
    name: 'scene-with-video.yaml',
    recipe: `version: 1
name: dance
stages:
  dance:
    swap:
      identity: https://assets.example.com/ana.jpg
      scene: https://assets.example.com/park.jpg
      video: https://assets.example.com/take.mp4
`,
    stderr: `scene-with-video.yaml:7:7: error: stage "dance" gives "scene" with a reference "video", but Kling 2-6 Motion Control Pro (kling/kling-2-6/motion-control-pro) takes no scene: it makes the "identity" image perform the video's motion, and the video is the scene. Remove "scene", or put the face into the scene first with a still stage and use its image as "identity" here
   7 |       scene: https://assets.example.com/park.jpg
     |       ~~~~~
1 error
`,
  },
  {
    name: 'wrong-medium.yaml',
    recipe: `version: 1
name: hero
stages:
  hero:
    swap:
      identity: https://assets.example.com/ana.mp4
      scene: https://assets.example.com/beach.jpg
`,
    stderr: `wrong-medium.yaml:6:17: error: "identity" of stage "hero" is a video (by extension .mp4), but it must be an image of the face to put in (if the file is an image despite its extension, write {url: https://assets.example.com/ana.mp4, medium: image})
   6 |       identity: https://assets.example.com/ana.mp4
     |                 ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
1 error
`,
  },
  {
    name: 'no-face.yaml',
    recipe: `version: 1
name: hero
stages:
  hero:
    swap:
      scene: https://assets.example.com/beach.jpg
`,
    stderr: `no-face.yaml:5:5: error: the swap of stage "hero" has no face to put in: add "identity" (an image of the face) or "describe" (the new face in prose)
   5 |     swap:
     |     ~~~~
1 error
`,
  },
  {
    name: 'bad-size.yaml',
    recipe: `version: 1
name: hero
stages:
  hero:
    swap:
      identity: https://assets.example.com/ana.jpg
      scene: https://assets.example.com/beach.jpg
      size: 2048_2048
`,
    stderr: `bad-size.yaml:8:13: error: swap field "size" of stage "hero" must be one of auto, 1024_1024, 1024_1536, 1536_1024, not "2048_2048" (openai/gpt-image-2/edit)
   8 |       size: 2048_2048
     |             ~~~~~~~~~
1 error
`,
  },
  {
    name: 'unused-prompt.yaml',
    recipe: `version: 1
name: talk
stages:
  talk:
    swap:
      identity: https://assets.example.com/leo.jpg
      audio: https://assets.example.com/voice.mp3
      prompt: Speak warmly.
`,
    stderr: `unused-prompt.yaml:8:7: warning: "prompt" of stage "talk" is not used: Wan 2-2 Animate (community/wan-2-2-animate/api) takes no prompt
   8 |       prompt: Speak warmly.
     |       ~~~~~~
1 warning
`,
  },
];

describe('swap diagnostics, as validate prints them', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const result = await validate(c.name, c.recipe);
    expect(result.stderr).toBe(c.stderr);
    const warningOnly = !c.stderr.includes(': error: ');
    expect(result.code).toBe(warningOnly ? 0 : 65);
  });

  it('reports every stage of a recipe in one pass, each at its own place', async () => {
    const text = cases.map((c) => c.recipe.split('stages:\n')[1]! + SUBJECTS).join('');
    const result = await validate(
      'all.yaml',
      `version: 1\nname: all\nvars:\n  scenes: [https://assets.example.com/a.jpg, https://assets.example.com/b.jpg]\nstages:\n${text.replace(/^( {2}[a-z]+):/gm, (_m, id: string, offset: number) => `${id}${offset}:`).slice(0, -SUBJECTS.length)}`,
    );
    expect(result.code).toBe(65);
    expect(result.stderr).toMatch(/\n12 errors, 1 warning\n$/);
  });

  it('{url, medium} says the kind where the URL does not', async () => {
    const result = await validate(
      'medium.yaml',
      `version: 1
name: hero
stages:
  hero:
    swap:
      identity: https://assets.example.com/ana.jpg
      scene: {url: "https://cdn.example.com/asset/8841", medium: image}
`,
    );
    expect(result).toEqual({ code: 0, stdout: 'ok medium.yaml (hero: 1 stage)\n', stderr: '' });
  });
});
