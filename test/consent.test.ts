/**
 * Consent as data (issue 7): each missing or non-matching record is found by `validate` before
 * anything runs, as a located diagnostic with the exact text below, exit 77 (65 when the recipe
 * is also invalid). Fixtures live in test/fixtures/consent/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import { exitCodeFor } from '../src/cli/exit-codes.js';
import { analyzeLoaded } from '../src/recipe/analyze.js';
import { exitCategory, sortDiagnostics, type Diagnostic } from '../src/recipe/diagnostic.js';
import { parseRecipeText } from '../src/recipe/load.js';
import { renderDiagnostic } from '../src/report/diagnostics-text.js';
import { diagnosticAnnotation } from '../src/report/github-commands.js';
import { runCli } from './helpers/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const catalog = Catalog.load();
const dir = 'test/fixtures/consent';

/** Analyses recipe text in-process as if it were the file `path` (relative to the repository). */
function analyze(
  path: string,
  text: string,
  options: { today?: string; sets?: { name: string; value: string }[] } = {},
) {
  const analysis = analyzeLoaded(parseRecipeText(path, text), {
    catalog,
    cwd: root,
    ...(options.today !== undefined && { today: options.today }),
    ...(options.sets && { sets: options.sets.map((s) => ({ name: s.name, value: s.value })) }),
  });
  return {
    ...analysis,
    text: render(analysis.diagnostics),
    code: exitCodeFor(exitCategory(analysis.diagnostics)),
  };
}

function render(diagnostics: readonly Diagnostic[]): string {
  return sortDiagnostics(diagnostics)
    .map((d) => renderDiagnostic(d))
    .join('');
}

const fixture = (name: string) => readFileSync(`${root}${dir}/${name}.yaml`, 'utf8');

const EXPECTED: Record<string, [number, string]> = {
  'missing-block': [
    77,
    'test/fixtures/consent/missing-block.yaml:5:3: error: stage "face" swaps a face (blackforestlabs/flux-1-kontext/pro/edit), but the recipe has no consent: block; add one that records the people whose faces are used (consent.subjects, each with a release reference), the rights to the material (consent.assets) and the disclosure label (consent.disclosure.label), and name the subjects in each face-swap stage (docs/consent.md)\n' +
      '   5 |   face:\n' +
      '     |   ~~~~\n' +
      'test/fixtures/consent/missing-block.yaml:10:3: note: stage "motion" swaps a face (kling/kling-2-6/motion-control-pro) too\n' +
      '   10 |   motion:\n' +
      '      |   ~~~~~~\n' +
      '1 error\n',
  ],
  'no-subjects': [
    77,
    'test/fixtures/consent/no-subjects.yaml:28:3: error: stage "motion" swaps a face (kling/kling-2-6/motion-control-pro) but names no subjects; add "subjects: [ana]" to the stage, naming the consent.subjects entry of each person whose face it uses (consent.subjects records "ana")\n' +
      '   28 |   motion:\n' +
      '      |   ~~~~~~\n' +
      '1 error\n',
  ],
  'unknown-subject': [
    77,
    'test/fixtures/consent/unknown-subject.yaml:22:16: error: stage "hero" names subject "anna", which consent.subjects does not record; did you mean "ana"?\n' +
      '   22 |     subjects: [anna]\n' +
      '      |                ~~~~\n' +
      '1 error\n',
  ],
  expired: [
    77,
    'test/fixtures/consent/expired.yaml:12:16: error: the release of subject "ana" (REL-2026-0042) expired on 2020-01-31; renew it and update "expires", or stop using this person\'s face\n' +
      '   12 |       expires: 2020-01-31\n' +
      '      |                ~~~~~~~~~~\n' +
      'test/fixtures/consent/expired.yaml:22:16: note: stage "hero" uses subject "ana" here\n' +
      '   22 |     subjects: [ana]\n' +
      '      |                ~~~\n' +
      'test/fixtures/consent/expired.yaml:30:16: note: stage "motion" uses subject "ana" here\n' +
      '   30 |     subjects: [ana]\n' +
      '      |                ~~~\n' +
      '1 error\n',
  ],
  'uncovered-asset': [
    77,
    'test/fixtures/consent/uncovered-asset.yaml:33:28: error: "https://cdn.example.org/stock/dance.mp4" (input field "reference_video_url" of stage "motion") is not covered by any consent.assets rule; record the rights to it under consent.assets, e.g. "- {match: \'https://cdn.example.org/stock/**\', rights: <owner or licence>}"\n' +
      '   33 |       reference_video_url: ${{ vars.dance }}\n' +
      '      |                            ~~~~~~~~~~~~~~~~~\n' +
      'test/fixtures/consent/uncovered-asset.yaml:6:10: note: the value comes from var "dance", set here\n' +
      '   6 |   dance: https://cdn.example.org/stock/dance.mp4\n' +
      '     |          ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
      '1 error\n',
  ],
  'identity-not-subject': [
    77,
    'test/fixtures/consent/identity-not-subject.yaml:27:11: error: identity image "https://assets.example.com/campaign/leo/portrait.jpg" (input field "images[1]" of stage "hero") is not one of the images recorded for subject "ana"; add it to consent.subjects.ana.images if it is their face, or name the subject whose face it is in the stage\'s subjects\n' +
      '   27 |         - ${{ vars.still }}\n' +
      '      |           ~~~~~~~~~~~~~~~~~\n' +
      'test/fixtures/consent/identity-not-subject.yaml:5:10: note: the value comes from var "still", set here\n' +
      '   5 |   still: https://assets.example.com/campaign/leo/portrait.jpg\n' +
      '     |          ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
      'test/fixtures/consent/identity-not-subject.yaml:11:15: note: the images recorded for subject "ana"\n' +
      '   11 |       images: [https://assets.example.com/campaign/ana/**]\n' +
      '      |               ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
      '1 error\n',
  ],
  'no-disclosure': [
    77,
    'test/fixtures/consent/no-disclosure.yaml:7:1: error: the consent block has no disclosure label; add "disclosure: {label: AI-generated}" under consent:, worded as the destination platform requires (it is written into every output)\n' +
      '   7 | consent:\n' +
      '     | ~~~~~~~\n' +
      '1 error\n',
  ],
  'invalid-and-unconsented': [
    65,
    'test/fixtures/consent/invalid-and-unconsented.yaml:5:3: error: stage "face" swaps a face (blackforestlabs/flux-1-kontext/pro/edit), but the recipe has no consent: block; add one that records the people whose faces are used (consent.subjects, each with a release reference), the rights to the material (consent.assets) and the disclosure label (consent.disclosure.label), and name the subjects in each face-swap stage (docs/consent.md)\n' +
      '   5 |   face:\n' +
      '     |   ~~~~\n' +
      'test/fixtures/consent/invalid-and-unconsented.yaml:10:3: note: stage "motion" swaps a face (kling/kling-2-6/motion-control-pro) too\n' +
      '   10 |   motion:\n' +
      '      |   ~~~~~~\n' +
      'test/fixtures/consent/invalid-and-unconsented.yaml:12:5: error: unknown key "retires" in stage "motion"; did you mean "retries"?\n' +
      '   12 |     retires: 2\n' +
      '      |     ~~~~~~~\n' +
      '2 errors\n',
  ],
};

describe('consent failures, exactly as validate prints them', () => {
  for (const [name, [code, stderr]] of Object.entries(EXPECTED)) {
    it(name, async () => {
      const result = await runCli(['validate', `${dir}/${name}.yaml`], { cwd: root });
      expect(result.stderr).toBe(stderr);
      expect(result.stdout).toBe('');
      expect(result.code).toBe(code);
    });
  }

  it('a subject without a release, or an assets rule without rights, is missing consent (77), located', async () => {
    const result = await runCli(['validate', `${dir}/record-missing.yaml`], { cwd: root });
    expect(result.code).toBe(77);
    expect(result.stderr).toContain(
      `${dir}/record-missing.yaml:6:5: error: consent subject "ana" records no release; add "release: <the reference of the signed release>" for this person's face, or stop using it\n`,
    );
    expect(result.stderr).toContain(
      `${dir}/record-missing.yaml:8:7: error: consent.assets[0] records no rights; add "rights: <how you hold the rights to this material>" (owned, licensed, …)\n`,
    );
    expect(result.stderr).toMatch(/\n2 errors\n$/);
  });

  it('a consented recipe passes', async () => {
    const result = await runCli(['validate', `${dir}/ok.yaml`], { cwd: root });
    expect(result).toEqual({
      code: 0,
      stdout: 'ok test/fixtures/consent/ok.yaml (consent-ok: 2 stages)\n',
      stderr: '',
    });
  });

  it('plan refuses too, before printing a plan', async () => {
    const result = await runCli(['plan', `${dir}/missing-block.yaml`], { cwd: root });
    expect(result.code).toBe(77);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('but the recipe has no consent: block');
  });
});

describe('release expiry against an injected today', () => {
  const text = fixture('ok').replace('expires: 2099-12-31', 'expires: 2026-06-30');

  it('the expiry day itself still counts', () => {
    expect(analyze(`${dir}/ok.yaml`, text, { today: '2026-06-30' }).code).toBe(0);
  });

  it('the day after, the release is refused, located at "expires"', () => {
    const result = analyze(`${dir}/ok.yaml`, text, { today: '2026-07-01' });
    expect(result.code).toBe(77);
    expect(result.text.split('\n').slice(0, 3).join('\n')).toBe(
      'test/fixtures/consent/ok.yaml:13:16: error: the release of subject "ana" (REL-2026-0042) expired on 2026-06-30; renew it and update "expires", or stop using this person\'s face\n' +
        '   13 |       expires: 2026-06-30\n' +
        '      |                ~~~~~~~~~~',
    );
  });

  it('a date that does not exist is invalid data (65)', () => {
    const result = analyze(
      `${dir}/ok.yaml`,
      fixture('ok').replace('expires: 2099-12-31', 'expires: 2027-02-30'),
    );
    expect(result.code).toBe(65);
    expect(result.text).toContain(
      'error: "expires" of subject "ana" is not a real date (2027-02-30); write it as YYYY-MM-DD\n',
    );
  });

  it('an expired subject no stage uses is not an error', () => {
    const extra = fixture('ok').replace(
      '  assets:',
      '    old:\n      release: REL-2019-0001\n      expires: 2020-01-01\n  assets:',
    );
    expect(analyze(`${dir}/ok.yaml`, extra).code).toBe(0);
  });
});

describe('asset coverage', () => {
  it('a value given with --set is checked like the recipe, and says where it came from', () => {
    const result = analyze(`${dir}/ok.yaml`, fixture('ok'), {
      sets: [{ name: 'dance', value: 'https://stock.example.net/salsa.mp4' }],
    });
    expect(result.code).toBe(77);
    expect(result.text).toBe(
      'test/fixtures/consent/ok.yaml:34:28: error: "https://stock.example.net/salsa.mp4" (input field "reference_video_url" of stage "motion") is not covered by any consent.assets rule (given with --set dance=…); record the rights to it under consent.assets, e.g. "- {match: \'https://stock.example.net/**\', rights: <owner or licence>}"\n' +
        '   34 |       reference_video_url: ${{ vars.dance }}\n' +
        '      |                            ~~~~~~~~~~~~~~~~~\n',
    );
  });

  it('values from upstream stages are exempt; values of a foreach over vars are each checked', () => {
    const text = `version: 1
name: fan-out
vars:
  scenes: [https://assets.example.com/campaign/a.jpg, https://elsewhere.example.net/b.jpg]
consent:
  subjects: { ana: { release: REL-1 } }
  assets: [{ match: "https://assets.example.com/campaign/**", rights: Owned }]
  disclosure: { label: AI-generated }
stages:
  stills:
    model: blackforestlabs/flux-1-kontext/pro/edit
    subjects: [ana]
    foreach: \${{ vars.scenes }}
    input:
      prompt: Change only the face
      image: \${{ item }}
  motion:
    model: kling/kling-2-6/motion-control-pro
    subjects: [ana]
    input:
      character_image_url: \${{ stages.stills.outputs[0].images[0] }}
      reference_video_url: https://assets.example.com/campaign/dance.mp4
`;
    const result = analyze(`${dir}/fan-out.yaml`, text);
    expect(result.text).toBe(
      'test/fixtures/consent/fan-out.yaml:16:14: error: "https://elsewhere.example.net/b.jpg" (input field "image" of stage "stills" (foreach item 1)) is not covered by any consent.assets rule; record the rights to it under consent.assets, e.g. "- {match: \'https://elsewhere.example.net/**\', rights: <owner or licence>}"\n' +
        '   16 |       image: ${{ item }}\n' +
        '      |              ~~~~~~~~~~~\n',
    );
  });

  it('a URL is matched after normalisation: ".." cannot climb out of a covered folder', () => {
    const text = fixture('ok').replace(
      'https://assets.example.com/campaign/scene-01.jpg',
      'https://assets.example.com/campaign/../private/scene-01.jpg',
    );
    const result = analyze(`${dir}/ok.yaml`, text);
    expect(result.code).toBe(77);
    expect(result.text).toContain(
      '"https://assets.example.com/campaign/../private/scene-01.jpg" (input field "images[0]" of stage "hero") is not covered',
    );
  });

  it("a file: URL of a file in the recipe's folder is covered by the rules written for its path", () => {
    const images = join(root, 'test/fixtures/images');
    const face = readdirSync(images).find((f) => f.endsWith('.jpg'))!;
    const text = (identity: string) => `version: 1
name: local-url
consent:
  subjects: { ana: { release: REL-1, images: [images/${face}] } }
  assets: [{ match: "images/**", rights: Owned }]
  disclosure: { label: AI-generated }
stages:
  swap:
    model: local/face-swap
    subjects: [ana]
    input: { identity: "${identity}", scene: images/${face} }
`;
    const url = pathToFileURL(join(images, face)).href;
    expect(analyze('test/fixtures/local-url.yaml', text(url)).code).toBe(0);
    expect(analyze('test/fixtures/local-url.yaml', text(`images/${face}`)).code).toBe(0);
  });

  it('paths are compared percent-decoded: spaces and non-ASCII match as written, %2F stays in its segment', () => {
    const text = `version: 1
name: spaces
consent:
  subjects: { ana: { release: REL-1, images: ["https://cdn.example.com/Ana Portraits/**"] } }
  assets:
    - { match: "https://cdn.example.com/Summer Shoot/**", rights: Owned }
    - { match: "https://cdn.example.com/%E5%9C%BA%E6%99%AF/*.jpg", rights: Owned }
    - { match: "https://cdn.example.com/Ana Portraits/**", rights: Owned }
    - { match: "https://cdn.example.com/a/b/*.jpg", rights: Owned }
  disclosure: { label: AI-generated }
stages:
  hero:
    model: google/nano-banana-2/edit
    subjects: [ana]
    input:
      prompt: Put the face of image 1 into the others
      image_urls:
        - https://cdn.example.com/Ana%20Portraits/ana 1.jpg
        - https://cdn.example.com/Summer%20Shoot/beach 01.jpg
        - https://cdn.example.com/场景/一.jpg
        - https://cdn.example.com/a/b%2Fc.jpg
`;
    const result = analyze(`${dir}/spaces.yaml`, text);
    expect(result.code).toBe(77);
    // Only the escaped slash is not covered: "b%2Fc.jpg" is one file in a/, not c.jpg in a/b/.
    expect(result.text.match(/error:/g)).toHaveLength(1);
    expect(result.text).toContain('"https://cdn.example.com/a/b%2Fc.jpg" (input field "image_urls[3]"');
  });

  it('a swap: stage names its subjects and its identity must be theirs', () => {
    const text = `version: 1
name: swap-consent
consent:
  subjects:
    ana: { release: REL-1, images: ["https://assets.example.com/ana/**"] }
  assets: [{ match: "https://assets.example.com/**", rights: Owned }]
  disclosure: { label: AI-generated }
stages:
  gallery:
    subjects: [ana]
    swap:
      identity: https://assets.example.com/leo/front.jpg
      scene: [https://assets.example.com/sku/1.jpg, https://assets.example.com/sku/2.jpg]
`;
    const result = analyze(`${dir}/swap.yaml`, text);
    expect(result.code).toBe(77);
    expect(result.diagnostics.map((d) => [d.code, d.message])).toEqual([
      [
        'identity-not-subject',
        'identity image "https://assets.example.com/leo/front.jpg" (swap field "identity" of stage "gallery") is not one of the images recorded for subject "ana"; add it to consent.subjects.ana.images if it is their face, or name the subject whose face it is in the stage\'s subjects',
      ],
    ]);
    const unnamed = analyze(`${dir}/swap.yaml`, text.replace('    subjects: [ana]\n', ''));
    expect(unnamed.diagnostics.map((d) => d.code)).toEqual(['subjects-missing']);
  });
});

describe('every example recipe', () => {
  const recipes = readdirSync(`${root}recipes`)
    .filter((f) => f.endsWith('.yaml'))
    .sort();

  for (const name of recipes) {
    const path = `recipes/${name}`;
    const text = readFileSync(`${root}${path}`, 'utf8');

    it(`${path} carries a consent block with a disclosure label, and passes`, () => {
      expect(text).toMatch(/^consent:\n/m);
      expect(text).toMatch(/^ {2}disclosure:\n {4}label: \S/m);
      expect(analyze(path, text).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    });

    it(`${path} without its first subject reference exits 77 with a located message`, () => {
      const line = text.split('\n').findIndex((l) => /^ {4}subjects: \[/.test(l));
      expect(line).toBeGreaterThan(0);
      const broken = text
        .split('\n')
        .filter((_, i) => i !== line)
        .join('\n');
      const result = analyze(path, broken);
      expect(result.code).toBe(77);
      const first = sortDiagnostics(result.diagnostics)[0]!;
      expect(first.code).toBe('subjects-missing');
      expect(result.text).toMatch(
        new RegExp(`^${path.replace('.', '\\.')}:\\d+:3: error: stage "[a-z_-]+" swaps a face \\(`),
      );
    });
  }
});

describe('many places in one diagnostic', () => {
  // Thirteen face-swap stages and no consent block: one error at the first, a note per other stage.
  const stages = Array.from(
    { length: 13 },
    (_, i) =>
      `  s${i}:\n    model: blackforestlabs/flux-1-kontext/pro/edit\n    input:\n      prompt: p\n      image: https://assets.example.com/a.jpg\n`,
  ).join('');
  const text = `version: 1\nname: many\nstages:\n${stages}`;

  it('the text shows ten notes and counts the rest; JSON keeps every one', () => {
    const result = analyze('many.yaml', text);
    const [error] = result.diagnostics;
    expect(error?.related).toHaveLength(12);
    expect(result.text.match(/: note: stage "s\d+" swaps a face/g)).toHaveLength(10);
    expect(result.text).toContain(
      'note: stage "s10" swaps a face (blackforestlabs/flux-1-kontext/pro/edit) too\n' +
        '   54 |   s10:\n' +
        '      |   ~~~\n' +
        'many.yaml: note: and 2 more places like these (`faceswap-pipe validate --format json` lists every one)\n',
    );
    const annotation = diagnosticAnnotation(error!, { cwd: root, env: {} });
    expect(annotation.match(/%0Anote: /g)).toHaveLength(11);
    expect(annotation).toContain(
      '%0Anote: and 2 more places like these (`faceswap-pipe validate --format json` lists every one)',
    );
  });
});
