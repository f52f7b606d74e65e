/**
 * Disclosure and provenance (issue 7), tested on real files: PNG, JPEG and WebP made with
 * sharp, an MP4 made with ffmpeg (when it is on PATH), and a file of another kind. The hook the
 * executor calls (`beforeRecord`) is called directly, as the executor would, on a stage's files
 * in a temp output folder; `verify` then checks them, and fails on a changed copy.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/catalog.js';
import type { ExecutorOptions } from '../src/run/executor.js';
import { readEmbeddedLabel } from '../src/policy/labels/embed.js';
import { embedMp4, mp4Label } from '../src/policy/labels/mp4.js';
import { embedJpeg, jpegComments, jpegLabel } from '../src/policy/labels/jpeg.js';
import { embedPng, pngLabel, pngText } from '../src/policy/labels/png.js';
import { embedWebp, webpLabel } from '../src/policy/labels/webp.js';
import { disclosureInXmp } from '../src/policy/labels/xmp.js';
import {
  createProvenanceHook,
  type ProvenanceRecord,
  type ProvenanceStage,
} from '../src/policy/provenance.js';
import { makeRedactor } from '../src/policy/redact.js';
import { analyzeLoaded } from '../src/recipe/analyze.js';
import { parseRecipeText } from '../src/recipe/load.js';
import type { Recipe, StageId } from '../src/recipe/types.js';
import { normalize, runCli } from './helpers/cli.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const catalog = Catalog.load();
const hasFfmpeg = (() => {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
    execFileSync('ffprobe', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const RECIPE = `version: 1
name: summer-launch
vars:
  still: https://assets.example.com/campaign/ana/portrait.jpg
consent:
  subjects:
    ana:
      release: REL-2026-0042
      images: [https://assets.example.com/campaign/ana/**]
      expires: 2099-12-31
      scope: [advertising]
  assets:
    - match: https://assets.example.com/campaign/**
      rights: Owned footage, shoot of 2026-04
  disclosure:
    label: AI-generated
stages:
  hero:
    model: openai/gpt-image-2/edit
    subjects: [ana]
    input:
      prompt: Put the exact face from image 2 into image 1
      images:
        - https://assets.example.com/campaign/scene-01.jpg?X-Amz-Signature=secret-signature
        - \${{ vars.still }}
  motion:
    model: kling/kling-2-6/motion-control-pro
    subjects: [ana]
    input:
      character_image_url: \${{ stages.hero.outputs.images[0] }}
      reference_video_url: https://assets.example.com/campaign/dance.mp4
`;

const TOKEN = 'tok-PROVENANCE-0123456789';
const FIXED = new Date('2026-05-01T09:30:00.000Z');

let tmp: string;
let outDir: string;
let runDir: string;
let recipe: Recipe;

/** A 24×16 RGB test card whose pixels are all different, so any re-encoding would show. */
function card(): Sharp {
  const raw = Buffer.alloc(24 * 16 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 37 + (i >> 5)) % 251;
  return sharp(raw, { raw: { width: 24, height: 16, channels: 3 } });
}

/** Decoded pixels (read from bytes: libvips caches images by file name). */
async function pixels(path: string): Promise<string> {
  return createHash('sha256')
    .update(await sharp(readFileSync(path)).raw().toBuffer())
    .digest('hex');
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const readRecord = (path: string) =>
  JSON.parse(readFileSync(`${path}.provenance.json`, 'utf8')) as ProvenanceRecord;

function stage(
  id: string,
  files: string[],
  requestIds: string[],
  input: unknown,
  outputs: unknown,
): ProvenanceStage {
  const spec = recipe.stages.get(id as StageId)!;
  return {
    spec,
    model: catalog.get(spec.model!)!,
    input: input as ProvenanceStage['input'],
    outputs: outputs as ProvenanceStage['outputs'],
    files,
    requestIds,
  };
}

const before = new Map<string, { sha: string; pixels?: string }>();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'faceswap-provenance-'));
  outDir = join(tmp, 'outputs', 'summer-launch');
  runDir = join(outDir, 'runs', '2026-05-01T09-30-00.000Z');
  const analysis = analyzeLoaded(parseRecipeText('campaign.yaml', RECIPE), { catalog, cwd: tmp });
  expect(analysis.diagnostics).toEqual([]);
  recipe = analysis.recipe!;
  const hero = join(outDir, 'hero', 'req-hero-1');
  mkdirSync(hero, { recursive: true });
  await card().png().toFile(join(hero, 'result.png'));
  await card().jpeg({ quality: 80 }).toFile(join(hero, 'result.jpg'));
  await card().webp({ quality: 70 }).toFile(join(hero, 'result.webp'));
  await card().webp({ lossless: true }).toFile(join(hero, 'lossless.webp'));
  writeFileSync(join(hero, 'notes.txt'), 'not media\n');
  const motion = join(outDir, 'motion', 'req-motion-1');
  mkdirSync(motion, { recursive: true });
  if (hasFfmpeg) {
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=64x48:rate=10:duration=0.5',
      '-pix_fmt',
      'yuv420p',
      join(motion, 'output.mp4'),
    ]);
  } else {
    writeFileSync(join(motion, 'output.mp4'), 'placeholder\n');
  }
  for (const f of [
    'hero/req-hero-1/result.png',
    'hero/req-hero-1/result.jpg',
    'hero/req-hero-1/result.webp',
    'hero/req-hero-1/lossless.webp',
  ]) {
    before.set(f, { sha: sha(join(outDir, f)), pixels: await pixels(join(outDir, f)) });
  }
  before.set('hero/req-hero-1/notes.txt', { sha: sha(join(outDir, 'hero/req-hero-1/notes.txt')) });
  before.set('motion/req-motion-1/output.mp4', { sha: sha(join(outDir, 'motion/req-motion-1/output.mp4')) });

  const hook = createProvenanceHook({
    recipe,
    recipeFile: 'campaign.yaml',
    recipeDir: tmp,
    outDir,
    runDir,
    runId: 'run-1',
    version: '0.1.0',
    env: { ...process.env, RUNCOMFY_TOKEN: TOKEN },
    redact: makeRedactor({ RUNCOMFY_TOKEN: TOKEN, RUNCOMFY_CONFIG_DIR: join(tmp, 'no-config') }),
    now: () => FIXED,
  });
  const heroOutputs = { images: ['https://files.runcomfy.net/req-hero-1/result.png'] };
  const heroResult = await hook.beforeRecord(
    stage(
      'hero',
      [
        'hero/req-hero-1/result.png',
        'hero/req-hero-1/result.jpg',
        'hero/req-hero-1/result.webp',
        'hero/req-hero-1/lossless.webp',
        'hero/req-hero-1/notes.txt',
      ],
      ['req-hero-1'],
      {
        prompt: 'Put the exact face from image 2 into image 1',
        images: [
          'https://assets.example.com/campaign/scene-01.jpg?X-Amz-Signature=secret-signature',
          'https://assets.example.com/campaign/ana/portrait.jpg',
        ],
      },
      heroOutputs,
    ),
  );
  expect(heroResult).toEqual({ ok: true });
  const motionResult = await hook.beforeRecord(
    stage(
      'motion',
      ['motion/req-motion-1/output.mp4'],
      ['req-motion-1'],
      {
        character_image_url: heroOutputs.images[0],
        reference_video_url: `https://assets.example.com/campaign/dance.mp4`,
      },
      { video: 'https://files.runcomfy.net/req-motion-1/output.mp4' },
    ),
  );
  expect(motionResult).toEqual({ ok: true });
}, 60_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('the hook fits the executor seam as it is', () => {
  const hook = createProvenanceHook({
    recipe: { name: 'x', hash: 'h' },
    recipeFile: 'x.yaml',
    recipeDir: tmp,
    outDir: tmp,
    version: '0',
    env: {},
  });
  const seam: ExecutorOptions['beforeRecord'] = hook.beforeRecord;
  expect(typeof seam).toBe('function');
});

describe('embedded labels keep the pixels', () => {
  it.each([
    ['result.png', 'png', ['png-text', 'png-xmp']],
    ['result.jpg', 'jpeg', ['jpeg-xmp', 'jpeg-comment']],
    ['result.webp', 'webp', ['webp-xmp']],
    ['lossless.webp', 'webp', ['webp-xmp']],
  ])(
    '%s: label in the file, pixels identical, hash recorded after embedding',
    async (name, format, methods) => {
      const file = `hero/req-hero-1/${name}`;
      const path = join(outDir, file);
      const record = readRecord(path);
      expect(record.format).toBe(format);
      expect(record.disclosure).toEqual({ label: 'AI-generated', embedded: methods });
      expect(record.sha256).toBe(sha(path));
      expect(record.sha256).not.toBe(before.get(file)!.sha);
      expect(record.downloadedSha256).toBe(before.get(file)!.sha);
      expect(await pixels(path)).toBe(before.get(file)!.pixels);
      // An independent reader (libvips, through sharp) sees the XMP we wrote.
      const meta = await sharp(readFileSync(path)).metadata();
      expect(meta.xmpAsString ?? meta.xmp?.toString('utf8')).toContain('fsp:Disclosure="AI-generated"');
      expect(meta.xmpAsString ?? meta.xmp?.toString('utf8')).toContain(
        'compositeWithTrainedAlgorithmicMedia',
      );
      expect((await readEmbeddedLabel(path, process.env)).label).toBe('AI-generated');
    },
  );

  it('PNG text chunks are readable by libvips too', async () => {
    const meta = await sharp(readFileSync(join(outDir, 'hero/req-hero-1/result.png'))).metadata();
    expect(meta.comments).toEqual(expect.arrayContaining([{ keyword: 'Disclosure', text: 'AI-generated' }]));
  });

  it.skipIf(!hasFfmpeg)('MP4: the label is a container tag, written by stream copy', () => {
    const path = join(outDir, 'motion/req-motion-1/output.mp4');
    const record = readRecord(path);
    expect(record.format).toBe('mp4');
    expect(record.disclosure).toEqual({ label: 'AI-generated', embedded: ['mp4-comment'] });
    expect(record.sha256).toBe(sha(path));
    expect(record.warnings).toEqual([]);
    const probe = JSON.parse(
      execFileSync(
        'ffprobe',
        ['-v', 'error', '-show_entries', 'format_tags:stream=codec_name,nb_frames', '-of', 'json', path],
        { encoding: 'utf8' },
      ),
    ) as { format: { tags: Record<string, string> }; streams: { codec_name: string; nb_frames: string }[] };
    expect(probe.format.tags['description']).toBe('AI-generated');
    expect(probe.format.tags['comment']).toBe(
      'AI-generated. Made with faceswap-pipe 0.1.0 (recipe summer-launch, stage motion); provenance record: output.mp4.provenance.json',
    );
    expect(probe.streams).toEqual([{ codec_name: 'h264', nb_frames: '5' }]);
  });

  it('a file of another kind keeps its bytes; the record says the label is in the record only', () => {
    const path = join(outDir, 'hero/req-hero-1/notes.txt');
    const record = readRecord(path);
    expect(sha(path)).toBe(before.get('hero/req-hero-1/notes.txt')!.sha);
    expect(record.disclosure).toEqual({ label: 'AI-generated', embedded: [] });
    expect(record.warnings).toEqual([
      'the file is not a PNG, JPEG, WebP or MP4, so the label is in the provenance record only',
    ]);
  });
});

describe('the provenance record', () => {
  it('has the recipe, stage, model, request id, subjects, inputs with their coverage, and nothing secret', () => {
    const path = join(outDir, 'hero/req-hero-1/result.png');
    const record = readRecord(path);
    expect({ ...record, sha256: '<sha>', downloadedSha256: '<sha>', bytes: 0 }).toEqual({
      provenanceVersion: 1,
      file: 'result.png',
      sha256: '<sha>',
      downloadedSha256: '<sha>',
      bytes: 0,
      format: 'png',
      createdAt: '2026-05-01T09:30:00.000Z',
      generator: { name: 'faceswap-pipe', version: '0.1.0' },
      runId: 'run-1',
      recipe: { name: 'summer-launch', file: 'campaign.yaml', sha256: recipe.hash },
      stage: 'hero',
      model: 'openai/gpt-image-2/edit',
      backend: 'runcomfy',
      faceSwap: true,
      requestIds: ['req-hero-1'],
      disclosure: { label: 'AI-generated', embedded: ['png-text', 'png-xmp'] },
      subjects: [{ id: 'ana', release: 'REL-2026-0042', expires: '2099-12-31', scope: ['advertising'] }],
      inputs: [
        {
          field: 'images[0]',
          value: 'https://assets.example.com/campaign/scene-01.jpg?…',
          identity: false,
          coverage: {
            kind: 'asset',
            rule: 0,
            match: 'https://assets.example.com/campaign/**',
            rights: 'Owned footage, shoot of 2026-04',
          },
        },
        {
          field: 'images[1]',
          value: 'https://assets.example.com/campaign/ana/portrait.jpg',
          identity: true,
          coverage: {
            kind: 'subject-image',
            subject: 'ana',
            release: 'REL-2026-0042',
            match: 'https://assets.example.com/campaign/ana/**',
          },
        },
      ],
      warnings: [],
    });
    expect(readFileSync(`${path}.provenance.json`, 'utf8')).not.toContain('secret-signature');
  });

  it("an upstream stage's output is recorded as such", () => {
    const record = readRecord(join(outDir, 'motion/req-motion-1/output.mp4'));
    expect(
      record.inputs.map((i) => [
        i.field,
        i.coverage.kind,
        'stages' in i.coverage ? i.coverage.stages : undefined,
      ]),
    ).toEqual([
      ['character_image_url', 'upstream', ['hero']],
      ['reference_video_url', 'asset', undefined],
    ]);
  });

  it('manifest.json in the run folder lists every file', () => {
    const manifest = JSON.parse(readFileSync(join(runDir, 'manifest.json'), 'utf8')) as Record<
      string,
      unknown
    > & {
      outputs: {
        file: string;
        provenance: string;
        sha256: string;
        stage: string;
        requestIds: string[];
        labelEmbedded: string[];
      }[];
    };
    expect(Object.keys(manifest)).toEqual([
      'manifestVersion',
      'runId',
      'recipe',
      'generator',
      'disclosure',
      'outputsDir',
      'updatedAt',
      'outputs',
    ]);
    expect(manifest).toMatchObject({
      manifestVersion: 1,
      runId: 'run-1',
      disclosure: { label: 'AI-generated' },
      outputsDir: '../..',
    });
    expect(manifest.outputs.map((o) => [o.file, o.stage, o.requestIds, o.labelEmbedded])).toEqual([
      ['hero/req-hero-1/lossless.webp', 'hero', ['req-hero-1'], ['webp-xmp']],
      ['hero/req-hero-1/notes.txt', 'hero', ['req-hero-1'], []],
      ['hero/req-hero-1/result.jpg', 'hero', ['req-hero-1'], ['jpeg-xmp', 'jpeg-comment']],
      ['hero/req-hero-1/result.png', 'hero', ['req-hero-1'], ['png-text', 'png-xmp']],
      ['hero/req-hero-1/result.webp', 'hero', ['req-hero-1'], ['webp-xmp']],
      ['motion/req-motion-1/output.mp4', 'motion', ['req-motion-1'], hasFfmpeg ? ['mp4-comment'] : []],
    ]);
    for (const o of manifest.outputs) expect(o.sha256).toBe(sha(join(outDir, o.file)));
  });

  it('recording a stage twice leaves the labelled files as they are', async () => {
    const path = join(outDir, 'hero/req-hero-1/result.png');
    const first = sha(path);
    const hook = createProvenanceHook({
      recipe,
      recipeFile: 'campaign.yaml',
      recipeDir: tmp,
      outDir,
      version: '0.1.0',
      env: process.env,
    });
    expect(
      await hook.beforeRecord(
        stage('hero', ['hero/req-hero-1/result.png'], ['req-hero-1'], { prompt: 'x', images: [] }, null),
      ),
    ).toEqual({ ok: true });
    expect(sha(path)).toBe(first);
    const again = readRecord(path);
    expect(again.disclosure.embedded).toEqual(['png-text']);
    // What the first record knew is kept: the file as delivered, and when it was recorded.
    expect(again.downloadedSha256).toBe(before.get('hero/req-hero-1/result.png')!.sha);
    expect(again.createdAt).toBe('2026-05-01T09:30:00.000Z');
  });
});

describe('a new label replaces the one faceswap-pipe wrote before', () => {
  /** What an embedder is told about a file of stage "hero". */
  const labelInfo = (label: string, file: string) => ({
    label,
    generator: 'faceswap-pipe 0.1.0',
    recipe: 'campaign.yaml',
    stage: 'hero',
    record: `${file}.provenance.json`,
  });

  it('PNG: one Disclosure, one Comment, one XMP packet, all with the new label', async () => {
    const info = (label: string) => labelInfo(label, 'result.png');
    const first = embedPng(await card().png().toBuffer(), info('Synthetic media v1'));
    if (!first.ok) throw new Error(first.reason);
    const second = embedPng(first.bytes, info('Label two'));
    if (!second.ok) throw new Error(second.reason);
    expect(second.methods).toEqual(['png-text', 'png-xmp']);
    const text = second.bytes.toString('latin1');
    expect(text.split('Disclosure\0').length - 1).toBe(1);
    expect(text.split('XML:com.adobe.xmp\0').length - 1).toBe(1);
    expect(text).not.toContain('Synthetic media v1');
    expect(pngLabel(second.bytes)).toBe('Label two');
    expect(disclosureInXmp(pngText(second.bytes)!.get('XML:com.adobe.xmp')!)).toBe('Label two');
    // The same label again leaves the bytes as they are.
    const third = embedPng(second.bytes, info('Label two'));
    expect(third.ok && third.bytes.equals(second.bytes)).toBe(true);
  });

  it('WebP: its XMP chunk is replaced; the bitstream stays', async () => {
    const info = (label: string) => labelInfo(label, 'result.webp');
    const original = await card().webp().toBuffer();
    const first = embedWebp(original, info('Synthetic media v1'));
    if (!first.ok) throw new Error(first.reason);
    const second = embedWebp(first.bytes, info('Label two'));
    if (!second.ok) throw new Error(second.reason);
    expect(webpLabel(second.bytes)).toBe('Label two');
    expect(second.bytes.toString('latin1')).not.toContain('Synthetic media v1');
    const [a, b] = await Promise.all([
      sharp(original).raw().toBuffer(),
      sharp(second.bytes).raw().toBuffer(),
    ]);
    expect(a.equals(b)).toBe(true);
  });

  it('JPEG: its XMP packet and comment are replaced; the picture and its Exif stay', async () => {
    const info = (label: string) => labelInfo(label, 'result.jpg');
    const original = await card().withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const first = embedJpeg(original, info('Synthetic media v1'));
    if (!first.ok) throw new Error(first.reason);
    const second = embedJpeg(first.bytes, info('Label two'));
    if (!second.ok) throw new Error(second.reason);
    expect(second.methods).toEqual(['jpeg-xmp', 'jpeg-comment']);
    expect(jpegLabel(second.bytes)).toBe('Label two');
    expect(jpegComments(second.bytes)).toHaveLength(1);
    expect(second.bytes.toString('latin1')).not.toContain('Synthetic media v1');
    const [a, b] = await Promise.all([
      sharp(original).raw().toBuffer(),
      sharp(second.bytes).raw().toBuffer(),
    ]);
    expect(a.equals(b)).toBe(true);
    expect((await sharp(second.bytes).metadata()).orientation).toBe(6);
  });
});

describe('faceswap-pipe verify cross-checks the record', () => {
  it('against the manifest, the file name and the catalog', async () => {
    const dir = join(tmp, 'crosscheck');
    mkdirSync(join(dir, 'hero', 'req-x'), { recursive: true });
    const png = join(dir, 'hero', 'req-x', 'result.png');
    writeFileSync(png, await card().png().toBuffer());
    const hook = createProvenanceHook({
      recipe,
      recipeFile: 'campaign.yaml',
      recipeDir: tmp,
      outDir: dir,
      runDir: join(dir, 'runs', 'r1'),
      runId: 'r1',
      version: '0.1.0',
      env: process.env,
    });
    expect(
      await hook.beforeRecord(
        stage('hero', ['hero/req-x/result.png'], ['req-x'], { prompt: 'x', images: [] }, null),
      ),
    ).toEqual({ ok: true });
    await hook.writeManifest();
    const manifest = join(dir, 'runs', 'r1', 'manifest.json');
    expect((await runCli(['verify', manifest], { cwd: dir, env: process.env })).code).toBe(0);
    // Edited, with its record rewritten to match: the manifest still knows the delivered hash.
    writeFileSync(png, await card().flop().png().toBuffer());
    const record = readRecord(png) as unknown as Record<string, unknown>;
    writeFileSync(`${png}.provenance.json`, JSON.stringify({ ...record, sha256: sha(png) }));
    const edited = await runCli(['verify', manifest], { cwd: dir, env: process.env });
    expect(edited.code).toBe(65);
    expect(edited.stderr).toContain("the run's manifest lists sha256");
    // A record that calls a face-swap model's output no face swap is caught by the catalog.
    writeFileSync(
      `${png}.provenance.json`,
      JSON.stringify({ ...record, sha256: sha(png), faceSwap: false, model: 'local/face-swap' }),
    );
    // A manifest that lists nothing proves nothing: not a pass.
    const empty = join(dir, 'runs', 'r1', 'empty', 'manifest.json');
    mkdirSync(dirname(empty), { recursive: true });
    writeFileSync(empty, JSON.stringify({ manifestVersion: 1, outputsDir: '.', outputs: [] }));
    const nothing = await runCli(['verify', empty], { cwd: dir, env: process.env });
    expect(nothing.code).toBe(65);
    expect(nothing.stderr).toContain('nothing to verify: the manifest lists no files');
    const flipped = await runCli(['verify', png], { cwd: dir, env: process.env });
    expect(flipped.code).toBe(65);
    expect(flipped.stderr).toContain(
      'the record says its stage is no face swap, but its model local/face-swap swaps faces',
    );
  });
});

describe.skipIf(!hasFfmpeg)('videos', () => {
  it.each(['mp4', 'mov'])(
    'the label embedded in a .%s reads back (QuickTime keeps only the comment)',
    async (ext) => {
      const dir = join(tmp, `video-${ext}`);
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `clip.${ext}`);
      execFileSync('ffmpeg', [
        '-v',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=64x64:rate=5',
        '-t',
        '1',
        '-pix_fmt',
        'yuv420p',
        path,
      ]);
      const info = {
        label: 'AI-generated: Ana, REL-7',
        generator: 'faceswap-pipe 0.1.0',
        recipe: 'campaign.yaml',
        stage: 'motion',
        record: `clip.${ext}.provenance.json`,
      };
      expect(await embedMp4(path, info, process.env)).toEqual({ ok: true, methods: ['mp4-comment'] });
      expect(await mp4Label(path, process.env)).toBe('AI-generated: Ana, REL-7');
    },
  );
});

describe('files the model provider already signed with C2PA are left untouched', () => {
  it('PNG with a caBX chunk', async () => {
    const dir = join(tmp, 'c2pa');
    mkdirSync(join(dir, 'hero', 'req-c2pa'), { recursive: true });
    const png = await card().png().toBuffer();
    const data = Buffer.from('fake c2pa manifest store');
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write('caBX', 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0);
    const signed = Buffer.concat([png.subarray(0, 33), head, data, crc, png.subarray(33)]);
    const path = join(dir, 'hero', 'req-c2pa', 'result.png');
    writeFileSync(path, signed);
    const hook = createProvenanceHook({
      recipe,
      recipeFile: 'campaign.yaml',
      recipeDir: tmp,
      outDir: dir,
      version: '0.1.0',
      env: process.env,
    });
    expect(
      await hook.beforeRecord(
        stage('hero', ['hero/req-c2pa/result.png'], ['req-c2pa'], { prompt: 'x', images: [] }, null),
      ),
    ).toEqual({ ok: true });
    expect(readFileSync(path).equals(signed)).toBe(true);
    expect(readRecord(path).warnings).toEqual([
      'the PNG carries a C2PA manifest from the model provider; it was left untouched so that manifest stays valid',
    ]);
  });
});

describe('faceswap-pipe verify', () => {
  const files = () =>
    ['result.png', 'result.jpg', 'result.webp', 'lossless.webp'].map((f) =>
      join(outDir, 'hero/req-hero-1', f),
    );

  it('passes on the outputs, one line per file, exit 0', async () => {
    const result = await runCli(['verify', ...files()], { cwd: tmp, env: process.env });
    expect(result.stderr).toBe('');
    expect(normalize(result.stdout, [tmp])).toBe(
      'ok <tmp>/outputs/summer-launch/hero/req-hero-1/result.png: sha256 matches; label "AI-generated" in the file\'s PNG metadata; subjects ana\n' +
        'ok <tmp>/outputs/summer-launch/hero/req-hero-1/result.jpg: sha256 matches; label "AI-generated" in the file\'s JPEG metadata; subjects ana\n' +
        'ok <tmp>/outputs/summer-launch/hero/req-hero-1/result.webp: sha256 matches; label "AI-generated" in the file\'s WEBP metadata; subjects ana\n' +
        'ok <tmp>/outputs/summer-launch/hero/req-hero-1/lossless.webp: sha256 matches; label "AI-generated" in the file\'s WEBP metadata; subjects ana\n' +
        '4 of 4 files verified\n',
    );
    expect(result.code).toBe(0);
  });

  it("passes on everything a run's manifest lists", async () => {
    const result = await runCli(
      ['verify', 'outputs/summer-launch/runs/2026-05-01T09-30-00.000Z/manifest.json'],
      { cwd: tmp, env: process.env },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'ok outputs/summer-launch/motion/req-motion-1/output.mp4: sha256 matches; label "AI-generated" ',
    );
    expect(result.stdout).toContain(
      'ok outputs/summer-launch/hero/req-hero-1/notes.txt: sha256 matches; label "AI-generated" not embedded (the record says why); subjects ana\n',
    );
    expect(result.stdout.endsWith('6 of 6 files verified\n')).toBe(true);
  });

  it('fails on a tampered copy, with a clear message, exit 65', async () => {
    const copy = join(tmp, 'tampered');
    mkdirSync(copy, { recursive: true });
    const source = join(outDir, 'hero/req-hero-1/result.png');
    copyFileSync(source, join(copy, 'result.png'));
    copyFileSync(`${source}.provenance.json`, join(copy, 'result.png.provenance.json'));
    // Change one pixel: re-encode through sharp with the same metadata.
    const changed = await sharp(readFileSync(join(copy, 'result.png')))
      .composite([
        { input: Buffer.from([255, 0, 0]), raw: { width: 1, height: 1, channels: 3 }, top: 0, left: 0 },
      ])
      .png()
      .toBuffer();
    writeFileSync(join(copy, 'result.png'), changed);
    const result = await runCli(['verify', 'tampered/result.png'], { cwd: tmp, env: process.env });
    expect(result.code).toBe(65);
    expect(result.stdout).toBe('');
    const recorded = readRecord(source).sha256;
    const actual = createHash('sha256').update(changed).digest('hex');
    expect(result.stderr).toBe(
      'FAIL tampered/result.png:\n' +
        `  - sha256 mismatch: the record says ${recorded.slice(0, 12)}…, the file is ${actual.slice(0, 12)}…; the file was changed after it was recorded\n` +
        '  - the label "AI-generated" is missing from the file\'s PNG metadata\n' +
        '0 of 1 file verified; 1 failed\n',
    );
  });

  it('fails when the record is missing, or lacks the label or the consent references', async () => {
    const dir = join(tmp, 'records');
    mkdirSync(dir, { recursive: true });
    const source = join(outDir, 'hero/req-hero-1/result.jpg');
    copyFileSync(source, join(dir, 'none.jpg'));
    copyFileSync(source, join(dir, 'stripped.jpg'));
    const record = readRecord(source);
    writeFileSync(
      join(dir, 'stripped.jpg.provenance.json'),
      JSON.stringify({
        ...record,
        disclosure: { label: null, embedded: [] },
        subjects: [{ id: 'ana', release: null, expires: null, scope: [] }],
        inputs: [{ ...record.inputs[0], coverage: { kind: 'none' } }],
      }),
    );
    const result = await runCli(
      ['verify', 'records/none.jpg', 'records/stripped.jpg', 'records/absent.jpg'],
      { cwd: tmp, env: process.env },
    );
    expect(result.code).toBe(65);
    expect(result.stderr).toBe(
      'FAIL records/none.jpg:\n' +
        '  - no usable provenance record beside it (records/none.jpg.provenance.json: there is none)\n' +
        'FAIL records/stripped.jpg:\n' +
        '  - the record is for "result.jpg", not for this file (renamed, or swapped with another?)\n' +
        '  - the record has no disclosure label\n' +
        '  - subject "ana" has no release reference in the record\n' +
        '  - input "images[0]" (https://assets.example.com/campaign/scene-01.jpg?…) has no consent coverage in the record\n' +
        'FAIL records/absent.jpg: no such file: records/absent.jpg\n' +
        '0 of 3 files verified; 3 failed\n',
    );
  });

  it('a missing file alone exits 66', async () => {
    const result = await runCli(['verify', 'nowhere.png'], { cwd: tmp, env: process.env });
    expect(result).toEqual({
      code: 66,
      stdout: '',
      stderr: 'FAIL nowhere.png: no such file: nowhere.png\n0 of 1 file verified; 1 failed\n',
    });
  });

  it('the record sits beside the file, named after it', () => {
    expect(existsSync(join(outDir, 'hero/req-hero-1/result.png.provenance.json'))).toBe(true);
    expect(root).toBeTruthy();
  });
});
