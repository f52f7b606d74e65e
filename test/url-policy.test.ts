/**
 * The trust boundary (issue 7): what may be sent to a model. URL policy violations are invalid
 * data (exit 65), located at the value; the same checks run again on every resolved job body
 * before it is submitted, when upstream outputs have been substituted.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import { exitCodeFor } from '../src/cli/exit-codes.js';
import { inputPolicyFor, STRICT_INPUT_POLICY } from '../src/policy/input-guard.js';
import { classifyHost, parseIpv6 } from '../src/policy/ip-address.js';
import { checkSentValue, recordableUrl, type Receiver } from '../src/policy/url-policy.js';
import { analyzeLoaded } from '../src/recipe/analyze.js';
import { exitCategory } from '../src/recipe/diagnostic.js';
import { parseRecipeText } from '../src/recipe/load.js';
import type { StageId } from '../src/recipe/types.js';
import { resolveStageInputs } from '../src/run/stage-input.js';
import { runCli } from './helpers/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const catalog = Catalog.load();
const hosted: Receiver = { kind: 'hosted', model: 'openai/gpt-image-2/edit' };
type Options = { readonly allowInsecureLocal: boolean };
const strict = { allowInsecureLocal: false };
const tests = { allowInsecureLocal: true };
const code = (value: string, options: Options = strict, receiver: Receiver = hosted) =>
  checkSentValue(value, receiver, options)?.code;

describe('host classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['localhost', 'loopback'],
    ['api.localhost', 'loopback'],
    ['[::1]', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['100.64.0.1', 'private'],
    ['[fd12:3456::1]', 'private'],
    ['[fc00::1]', 'private'],
    ['169.254.1.1', 'link-local'],
    ['[fe80::1]', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['[fd00:ec2::254]', 'metadata'],
    ['metadata.google.internal', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['[::]', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['[ff02::1]', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['[::ffff:7f00:1]', 'loopback'],
    ['[::ffff:a9fe:a9fe]', 'metadata'],
    ['[64:ff9b::a00:1]', 'private'],
    ['172.32.0.1', 'public'],
    ['8.8.8.8', 'public'],
    ['[2001:4860:4860::8888]', 'public'],
    ['assets.example.com', 'public'],
  ])('%s is %s', (host, kind) => {
    expect(classifyHost(host)).toBe(kind);
  });

  it('parses IPv6 with an embedded IPv4 address and rejects garbage', () => {
    expect(parseIpv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parseIpv6('::1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0, 0x0102, 0x0304]);
    expect(parseIpv6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIpv6('1::2::3')).toBeUndefined();
    expect(parseIpv6('12345::')).toBeUndefined();
    expect(parseIpv6('1:2:3:4:5:6:7:8:9')).toBeUndefined();
  });
});

describe('checkSentValue', () => {
  it('accepts public https URLs, presigned ones included', () => {
    expect(code('https://assets.example.com/a.jpg')).toBeUndefined();
    expect(
      code(
        'https://bucket.s3.amazonaws.com/a.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F&X-Amz-Signature=abc',
      ),
    ).toBeUndefined();
    expect(
      code('https://storage.googleapis.com/b/a.jpg?X-Goog-Signature=abc&X-Goog-Expires=600'),
    ).toBeUndefined();
    expect(
      code('https://acct.blob.core.windows.net/c/a.jpg?sv=2024-01-01&se=2026-01-01&sig=abc'),
    ).toBeUndefined();
  });

  it.each([
    ['http://assets.example.com/a.jpg', 'url-not-https'],
    ['ftp://assets.example.com/a.jpg', 'url-not-https'],
    ['data:image/png;base64,iVBORw0KGgo=', 'url-not-https'],
    ['javascript:alert(1)', 'url-not-https'],
    ['https://user:pass@assets.example.com/a.jpg', 'url-credentials'],
    ['https://user@assets.example.com/a.jpg', 'url-credentials'],
    ['https://assets.example.com/a.jpg?access_token=abc', 'url-credentials'],
    ['https://assets.example.com/a.jpg?API_KEY=abc', 'url-credentials'],
    ['https://127.0.0.1/a.jpg', 'url-private-host'],
    ['https://0x7f.1/a.jpg', 'url-private-host'],
    ['https://2130706433/a.jpg', 'url-private-host'],
    ['https://[::1]/a.jpg', 'url-private-host'],
    ['https://10.0.0.1/a.jpg', 'url-private-host'],
    ['https://169.254.169.254/latest/meta-data/iam/', 'url-private-host'],
    ['https://[fe80::1]/a.jpg', 'url-private-host'],
    ['https://[::ffff:10.0.0.1]/a.jpg', 'url-private-host'],
    ['https://metadata.google.internal/computeMetadata/v1/', 'url-private-host'],
    ['file:///etc/passwd', 'local-file-hosted'],
    ['assets/ana.jpg', 'local-file-hosted'],
    ['/home/me/ana.jpg', 'local-file-hosted'],
    ['https://exa mple.com/a.jpg', 'url-invalid'],
  ])('%s is refused: %s', (value, expected) => {
    expect(code(value)).toBe(expected);
  });

  it('--allow-insecure-local lets loopback through, http too, and nothing else', () => {
    expect(code('https://127.0.0.1:8443/a.jpg', tests)).toBeUndefined();
    expect(code('http://127.0.0.1:8080/a.jpg', tests)).toBeUndefined();
    expect(code('http://localhost:8080/a.jpg', tests)).toBeUndefined();
    expect(code('http://[::1]:8080/a.jpg', tests)).toBeUndefined();
    expect(code('http://10.0.0.1/a.jpg', tests)).toBe('url-private-host');
    expect(code('http://169.254.169.254/', tests)).toBe('url-private-host');
    expect(code('http://assets.example.com/a.jpg', tests)).toBe('url-not-https');
  });

  it('local models take paths of existing files inside the recipe folder only', () => {
    const root = mkdtempSync(join(tmpdir(), 'url-policy-local-'));
    try {
      const recipes = join(root, 'recipes');
      mkdirSync(join(recipes, 'assets'), { recursive: true });
      writeFileSync(join(recipes, 'assets/ana.jpg'), 'x');
      writeFileSync(join(recipes, 'ana.jpg'), 'x');
      const local: Receiver = { kind: 'local', model: 'local/face-swap', recipeDir: recipes };
      expect(code('assets/ana.jpg', strict, local)).toBeUndefined();
      expect(code('./assets/../ana.jpg', strict, local)).toBeUndefined();
      expect(code(`${recipes}/assets/ana.jpg`, strict, local)).toBeUndefined();
      expect(code(`file://${recipes}/assets/ana.jpg`, strict, local)).toBeUndefined();
      expect(code('../secrets/ana.jpg', strict, local)).toBe('path-outside-recipe');
      expect(code('/etc/passwd', strict, local)).toBe('path-outside-recipe');
      expect(code('file:///etc/passwd', strict, local)).toBe('path-outside-recipe');
      expect(code('https://169.254.169.254/', strict, local)).toBe('url-private-host');
      // Found by analysis, before anything runs (the run-time guard leaves it to the engine).
      const exists = { ...strict, checkExists: true };
      expect(code('assets/ana-typo.jpg', strict, local)).toBeUndefined();
      expect(code('assets/ana-typo.jpg', exists, local)).toBe('local-file-missing');
      expect(code('assets', exists, local)).toBe('local-file-missing');
      expect(code('assets/ana.jpg', exists, local)).toBeUndefined();
      expect(checkSentValue('assets/ana-typo.jpg', local, exists)?.reason).toBe(
        "is the path assets/ana-typo.jpg, but no such file exists (local paths are relative to the recipe's folder); check the name, or add the file",
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('a symbolic link in the recipe folder that leads outside it is refused like the outside path', () => {
    const root = mkdtempSync(join(tmpdir(), 'url-policy-link-'));
    try {
      mkdirSync(join(root, 'recipes/assets'), { recursive: true });
      writeFileSync(join(root, 'outside.jpg'), 'x');
      writeFileSync(join(root, 'recipes/assets/inside.jpg'), 'x');
      symlinkSync(join(root, 'outside.jpg'), join(root, 'recipes/assets/out-link.jpg'));
      symlinkSync(join(root, 'recipes/assets/inside.jpg'), join(root, 'recipes/assets/in-link.jpg'));
      const local: Receiver = { kind: 'local', model: 'local/face-swap', recipeDir: join(root, 'recipes') };
      expect(code('assets/out-link.jpg', strict, local)).toBe('path-outside-recipe');
      expect(code('assets/in-link.jpg', strict, local)).toBeUndefined();
      expect(code('assets/inside.jpg', strict, local)).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('records keep a URL without its signature or credentials', () => {
    expect(recordableUrl('https://b.s3.amazonaws.com/a.jpg?X-Amz-Signature=secret')).toBe(
      'https://b.s3.amazonaws.com/a.jpg?…',
    );
    expect(recordableUrl('https://assets.example.com/a.jpg')).toBe('https://assets.example.com/a.jpg');
    expect(recordableUrl('assets/a.jpg')).toBe('assets/a.jpg');
  });
});

describe('validate: URL policy diagnostics', () => {
  it('every refused kind, located, exit 65', async () => {
    const result = await runCli(['validate', 'test/fixtures/consent/url-policy.yaml'], { cwd: root });
    expect(result.code).toBe(65);
    expect(result.stderr).toBe(
      'test/fixtures/consent/url-policy.yaml:19:11: error: input field "image_urls[1]" of stage "gallery" is an http:// URL (http://assets.example.com/plain-http.jpg); only https:// URLs may be sent to models\n' +
        '   19 |         - http://assets.example.com/plain-http.jpg\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:20:11: error: input field "image_urls[2]" of stage "gallery" carries credentials in the URL (https://***@assets.example.com/userinfo.jpg); remove the user:password@ part: models must fetch inputs without standing secrets (a presigned URL, whose signature is in the query string, is fine)\n' +
        '   20 |         - https://user:hunter2@assets.example.com/userinfo.jpg\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:21:11: error: input field "image_urls[3]" of stage "gallery" carries a credential in its query string ("token=\u2026"); use a presigned URL (X-Amz-Signature=\u2026, X-Goog-Signature=\u2026, an Azure SAS sig=\u2026) that grants this one file for a limited time instead\n' +
        '   21 |         - https://assets.example.com/a.jpg?token=abc123\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:23:11: error: input field "image_urls[5]" of stage "gallery" points at 10.0.0.5, a private network address; models may only be sent URLs of public hosts\n' +
        '   23 |         - https://10.0.0.5/private.jpg\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:24:11: error: input field "image_urls[6]" of stage "gallery" points at 169.254.169.254, the cloud metadata service address; models may only be sent URLs of public hosts\n' +
        '   24 |         - https://169.254.169.254/latest/meta-data/\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:25:11: error: input field "image_urls[7]" of stage "gallery" points at [::1], a loopback address; models may only be sent URLs of public hosts (tests may allow loopback with --allow-insecure-local)\n' +
        '   25 |         - https://[::1]/loopback.jpg\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:26:11: error: input field "image_urls[8]" of stage "gallery" points at [fd00::1], a private network address; models may only be sent URLs of public hosts\n' +
        '   26 |         - https://[fd00::1]/ula.jpg\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:27:11: error: input field "image_urls[9]" of stage "gallery" points at [::ffff:c0a8:10a], a private network address; models may only be sent URLs of public hosts\n' +
        '   27 |         - https://[::ffff:192.168.1.10]/mapped.jpg\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:28:11: error: input field "image_urls[10]" of stage "gallery" is a file: URL (file:///etc/passwd), but google/nano-banana-2/edit runs on RunComfy, which needs a public https:// URL (the runcomfy client uploads nothing); publish the file (your asset bucket or CDN) and put its https:// URL here, covered by a consent.assets rule\n' +
        '   28 |         - file:///etc/passwd\n' +
        '      |           ~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:29:11: error: input field "image_urls[11]" of stage "gallery" is a local file (assets/ana.jpg), but google/nano-banana-2/edit runs on RunComfy, which needs a public https:// URL (the runcomfy client uploads nothing); publish the file (your asset bucket or CDN) and put its https:// URL here, covered by a consent.assets rule\n' +
        '   29 |         - assets/ana.jpg\n' +
        '      |           ~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/url-policy.yaml:30:11: error: input field "image_urls[12]" of stage "gallery" is a ftp: URL (ftp://assets.example.com/c.jpg); only https:// URLs may be sent to models\n' +
        '   30 |         - ftp://assets.example.com/c.jpg\n' +
        '      |           ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        '11 errors\n',
    );
  });

  it('local paths that leave the recipe folder (65) and local paths not covered by consent (77): 65 wins', async () => {
    const result = await runCli(['validate', 'test/fixtures/consent/local-paths.yaml'], { cwd: root });
    expect(result.code).toBe(65);
    expect(result.stderr).toBe(
      'test/fixtures/consent/local-paths.yaml:24:17: error: input field "identity" of stage "escapes" is the path ../../faces/ana-front.jpg, which is outside the recipe\'s folder; local models read only files in the recipe\'s folder or below it\n' +
        '   24 |       identity: ../../faces/ana-front.jpg\n' +
        '      |                 ~~~~~~~~~~~~~~~~~~~~~~~~~\n' +
        'test/fixtures/consent/local-paths.yaml:25:14: error: input field "scene" of stage "escapes" is the path /etc/hosts, which is outside the recipe\'s folder; local models read only files in the recipe\'s folder or below it\n' +
        '   25 |       scene: /etc/hosts\n' +
        '      |              ~~~~~~~~~~\n' +
        'test/fixtures/consent/local-paths.yaml:31:14: error: "other/street.jpg" (input field "scene" of stage "uncovered") is not covered by any consent.assets rule; record the rights to it under consent.assets, e.g. "- {match: \'other/**\', rights: <owner or licence>}"\n' +
        '   31 |       scene: other/street.jpg\n' +
        '      |              ~~~~~~~~~~~~~~~~\n' +
        '3 errors\n',
    );
  });

  it('--allow-insecure-local reaches analysis (loopback only)', () => {
    const text = `version: 1
name: loopback
consent:
  subjects: { ana: { release: REL-1 } }
  assets: [{ match: "http://127.0.0.1:8080/**", rights: Test server }, { match: "http://10.0.0.1/**", rights: Test }]
  disclosure: { label: AI-generated }
stages:
  face:
    model: blackforestlabs/flux-1-kontext/pro/edit
    subjects: [ana]
    input: { prompt: Change only the face, image: "http://127.0.0.1:8080/ana.jpg" }
`;
    const run = (allowInsecureLocal: boolean) =>
      analyzeLoaded(parseRecipeText('loopback.yaml', text), { catalog, cwd: root, allowInsecureLocal });
    expect(exitCodeFor(exitCategory(run(false).diagnostics))).toBe(65);
    expect(run(true).diagnostics).toEqual([]);
    const other = analyzeLoaded(
      parseRecipeText('lan.yaml', text.replace('127.0.0.1:8080/ana', '10.0.0.1/ana')),
      {
        catalog,
        cwd: root,
        allowInsecureLocal: true,
      },
    );
    expect(other.diagnostics.map((d) => d.code)).toEqual(['url-private-host']);
  });
});

describe('at run time, on resolved bodies', () => {
  const text = `version: 1
name: chain
vars:
  dance: https://assets.example.com/campaign/dance.mp4
consent:
  subjects: { ana: { release: REL-1 } }
  assets: [{ match: "https://assets.example.com/campaign/**", rights: Owned }]
  disclosure: { label: AI-generated }
stages:
  face:
    model: blackforestlabs/flux-1-kontext/pro/edit
    subjects: [ana]
    input: { prompt: Change only the face, image: "https://assets.example.com/campaign/ana.jpg" }
  motion:
    model: kling/kling-2-6/motion-control-pro
    subjects: [ana]
    input:
      character_image_url: \${{ stages.face.outputs.images[0] }}
      reference_video_url: \${{ vars.dance }}
  mixed:
    model: kling/kling-2-6/motion-control-pro
    subjects: [ana]
    input:
      character_image_url: \${{ stages.face.outputs.images[0] && 'https://elsewhere.example.net/x.png' }}
      reference_video_url: \${{ vars.dance }}
`;
  const analysis = analyzeLoaded(parseRecipeText('chain.yaml', text), { catalog, cwd: root });
  const recipe = analysis.recipe!;
  const kling = catalog.get('kling/kling-2-6/motion-control-pro')!;
  const finished = (image: string) =>
    new Map([['face' as StageId, { outputs: { images: [image] }, files: ['face/r1/result.png'] }]]);

  it('analysis accepts the recipe (upstream values are not known yet)', () => {
    expect(analysis.diagnostics).toEqual([]);
  });

  it('an upstream output pointing at the metadata service fails the stage before submission', () => {
    const inputs = resolveStageInputs(
      recipe.stages.get('motion' as StageId)!,
      kling,
      recipe.vars,
      finished('http://169.254.169.254/latest/meta-data/'),
    );
    expect(inputs).toEqual({
      ok: false,
      message:
        'input field "character_image_url" of stage "motion" points at 169.254.169.254, the cloud metadata service address; models may only be sent URLs of public hosts; the value comes from stage "face"',
    });
  });

  it('a normal upstream output passes', () => {
    const inputs = resolveStageInputs(
      recipe.stages.get('motion' as StageId)!,
      kling,
      recipe.vars,
      finished('https://files.runcomfy.net/r1/result.png'),
      inputPolicyFor(recipe, { recipeDir: root }),
    );
    expect(inputs.ok).toBe(true);
  });

  it('a template that mixes an upstream reference with an unrecorded URL cannot slip it through', () => {
    const stage = recipe.stages.get('mixed' as StageId)!;
    const upstream = finished('https://files.runcomfy.net/r1/result.png');
    expect(resolveStageInputs(stage, kling, recipe.vars, upstream, STRICT_INPUT_POLICY).ok).toBe(true);
    expect(
      resolveStageInputs(stage, kling, recipe.vars, upstream, inputPolicyFor(recipe, { recipeDir: root })),
    ).toEqual({
      ok: false,
      message:
        'input field "character_image_url" of stage "mixed" sends "https://elsewhere.example.net/x.png", which is neither an output of an earlier stage nor covered by a consent.assets rule; the value comes from stage "face"',
      notPermitted: true,
    });
  });

  it("a face swapped in must be one of the subject's recorded images, whatever the value came through", () => {
    // Ana's images are recorded; the mixed value is covered as material (an asset rule), not as her face.
    const recorded = analyzeLoaded(
      parseRecipeText(
        'faces.yaml',
        text
          .replace(
            'subjects: { ana: { release: REL-1 } }',
            'subjects: { ana: { release: REL-1, images: ["https://assets.example.com/campaign/ana*"] } }',
          )
          .replace("'https://elsewhere.example.net/x.png'", "'https://assets.example.com/campaign/bob.png'"),
      ),
      { catalog, cwd: root },
    );
    expect(recorded.diagnostics).toEqual([]);
    const stage = recorded.recipe!.stages.get('mixed' as StageId)!;
    const upstream = finished('https://files.runcomfy.net/r1/result.png');
    expect(
      resolveStageInputs(
        stage,
        kling,
        recorded.recipe!.vars,
        upstream,
        inputPolicyFor(recorded.recipe!, { recipeDir: root }),
      ),
    ).toEqual({
      ok: false,
      message:
        'input field "character_image_url" of stage "mixed" sends "https://assets.example.com/campaign/bob.png" as the identity (the face swapped in), but it is not one of the images recorded for subject "ana"; add it to that subject\'s consent.subjects.<id>.images if it is their face; the value comes from stage "face"',
      notPermitted: true,
    });
  });

  it('prompts are screened again on the resolved body (here a var changed after analysis)', () => {
    const screened = analyzeLoaded(
      parseRecipeText(
        'p.yaml',
        text.replace(
          'input: { prompt: Change only the face,',
          'input: { prompt: "${{ format(\'{0}\', vars.dance) }}",',
        ),
      ),
      { catalog, cwd: root },
    );
    expect(screened.diagnostics).toEqual([]);
    const flux = catalog.get('blackforestlabs/flux-1-kontext/pro/edit')!;
    const inputs = resolveStageInputs(
      screened.recipe!.stages.get('face' as StageId)!,
      flux,
      { dance: 'make it nsfw' },
      new Map(),
    );
    expect(inputs).toEqual({
      ok: false,
      message:
        'input field "prompt" of stage "face" asks for sexually explicit content ("nsfw"); faceswap-pipe does not make sexual material with real people\'s faces, consent or not',
      notPermitted: true,
    });
  });
});
