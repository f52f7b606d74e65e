import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { baseName } from '../src/report/html/html-text.js';
import { findOnPath, mediaKind } from '../src/report/html/thumbs.js';
import { writeRunReport } from '../src/report/html/write-run-report.js';
import { checkJunitXml } from '../src/report/junit-schema.js';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const KLING = 'kling/kling-2-6/motion-control-pro';
const NANO = 'google/nano-banana-2/edit';
const EXAMPLE = readFileSync(new URL('../recipes/kontext-to-kling.yaml', import.meta.url), 'utf8');
const FFMPEG = await findOnPath('ffmpeg', process.env);

let sb: RunnerSandbox | undefined;
const temps: string[] = [];
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
});

/** A synthetic picture (a drawn face on a gradient), so no photograph of a person is needed. */
async function drawing(path: string, width: number, height: number, hue: number): Promise<void> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},60%,70%)"/><stop offset="1" stop-color="hsl(${(hue + 60) % 360},60%,40%)"/></linearGradient></defs>
<rect width="100%" height="100%" fill="url(#g)"/>
<circle cx="${width / 2}" cy="${height * 0.42}" r="${width * 0.22}" fill="#f1c9a5"/>
<circle cx="${width * 0.42}" cy="${height * 0.4}" r="${width * 0.025}" fill="#333"/><circle cx="${width * 0.58}" cy="${height * 0.4}" r="${width * 0.025}" fill="#333"/>
<path d="M ${width * 0.42} ${height * 0.5} Q ${width / 2} ${height * 0.56} ${width * 0.58} ${height * 0.5}" stroke="#833" stroke-width="${width * 0.015}" fill="none"/>
</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(path);
}

/** A one-second clip, when ffmpeg is on PATH; otherwise a file that only has a video's name. */
function clip(path: string): void {
  if (FFMPEG)
    execFileSync(FFMPEG, [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=320x240:rate=10',
      '-t',
      '1',
      '-pix_fmt',
      'yuv420p',
      '-y',
      path,
    ]);
  else writeFileSync(path, 'not a video');
}

/** The example chain against the stand-in, with real pictures and a real clip as its downloads. */
async function exampleRun(scenarioModels: Record<string, unknown> = {}): Promise<string> {
  sb = sandbox();
  const fixtures = join(sb.standin.dir, 'fixtures');
  mkdirSync(fixtures);
  await drawing(join(fixtures, 'face.png'), 768, 1024, 20);
  clip(join(fixtures, 'dance.mp4'));
  sb.standin.writeScenario({
    models: scenarioModels as never,
    downloads: {
      'https://files.runcomfy.net/{request_id}/result.png': { file: 'fixtures/face.png' },
      'https://files.runcomfy.net/{request_id}/output.mp4': { file: 'fixtures/dance.mp4' },
    },
  });
  const file = sb.recipe('recipes/kontext-to-kling.yaml', EXAMPLE);
  await sb.run(['run', file, '--reporter', 'plain']);
  return newestRun('summer-launch');
}

function newestRun(recipe: string): string {
  const runs = join(sb!.standin.dir, 'outputs', recipe, 'runs');
  return join(runs, readdirSync(runs).sort().at(-1)!);
}

/** `data-stage`/`data-status` pairs of the stage sections. */
function sections(html: string): [string, string][] {
  return [
    ...html.matchAll(/<section class="stage [^"]*" id="[^"]*" data-stage="([^"]+)" data-status="([^"]+)">/g),
  ].map((m) => [m[1]!, m[2]!]);
}

function section(html: string, stage: string): string {
  const start = html.indexOf(`data-stage="${stage}"`);
  return html.slice(start, html.indexOf('</section>', start));
}

describe('the contact sheet', () => {
  it('shows each stage with inputs and outputs side by side, from thumbnails in the run folder', async () => {
    const runDir = await exampleRun();
    const report = await writeRunReport(runDir, { env: process.env });
    expect(report.path).toBe(join(runDir, 'report.html'));
    const html = readFileSync(report.path, 'utf8');
    expect(sections(html)).toEqual([
      ['face', 'succeeded'],
      ['motion', 'succeeded'],
    ]);
    // Self-contained: no scripts, no stylesheets or fonts from elsewhere, nothing fetched from the network.
    expect(html).not.toMatch(/<script|<link rel="stylesheet"|@import|url\(http/i);
    expect(html).not.toMatch(/\b(src|poster)="https?:/);
    // Every picture is a thumbnail in runs/<ts>/thumbs/ of at most 320 px.
    const images = [...html.matchAll(/<img src="([^"]+)" width="(\d+)" height="(\d+)"/g)];
    expect(images.length).toBe(2); // the face output, and the same file as the motion stage's input
    for (const [, src, w, h] of images) {
      expect(src).toMatch(/^thumbs\/[0-9a-f]{20}-\d+x\d+\.jpg$/);
      const meta = await sharp(join(runDir, src!)).metadata();
      expect([meta.width, meta.height]).toEqual([Number(w), Number(h)]);
      expect(Math.max(meta.width, meta.height)).toBe(320);
    }
    const face = section(html, 'face');
    expect(face).toContain(
      '<blockquote class="prompt" data-field="prompt">Keep pose, clothing, hair, lighting and background exactly. Change only the face to that of a 30-year-old woman with freckles and green eyes.</blockquote>',
    );
    // The remote still is a link, not a fetch.
    expect(face).toContain(
      '<a class="frame remote remote-link" href="https://assets.example.com/campaign-2026/ana-portrait.jpg" rel="noreferrer"',
    );
    expect(face).toMatch(/<a class="frame" href="\.\.\/\.\.\/face\/[0-9a-f-]{36}\/result\.png"><img /);
    const motion = section(html, 'motion');
    // The upstream output URL it was given shows as that stage's downloaded file.
    expect(motion).toContain('character_image_url ← face');
    expect(motion).toContain('reference_video_url · not fetched');
    if (FFMPEG)
      expect(motion).toMatch(
        /<video controls preload="none" poster="thumbs\/[0-9a-f]{20}-320x240\.jpg" src="\.\.\/\.\.\/motion\/[0-9a-f-]{36}\/output\.mp4"/,
      );
    else expect(motion).toContain('no poster: ffmpeg is not on PATH');
    expect(html).toContain('<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="Stage graph"');
    expect(html).toMatch(/<path class="edge" d="M[^"]+" marker-end="url\(#arrow\)"\/>/);
    expect(html).toContain('@media print');
  });

  it('reuses thumbnails when rebuilt and removes the ones no longer used', async () => {
    const runDir = await exampleRun();
    // The run wrote its report (and thumbnails) already; start from a run folder without them.
    rmSync(join(runDir, 'thumbs'), { recursive: true, force: true });
    const first = await writeRunReport(runDir, { env: process.env });
    expect(first.thumbnails).toEqual({ made: FFMPEG ? 2 : 1, reused: 0 });
    writeFileSync(join(runDir, 'thumbs', '0123456789abcdef0123-10x10.jpg'), 'stale');
    const again = await writeRunReport(runDir, { env: process.env });
    expect(again.thumbnails).toEqual({ made: 0, reused: FFMPEG ? 2 : 1 });
    expect(existsSync(join(runDir, 'thumbs', '0123456789abcdef0123-10x10.jpg'))).toBe(false);
  });

  it('shares thumbnails between runs: a cached re-run links them from the state folder instead of making them', async () => {
    const firstRun = await exampleRun();
    const store = join(sb!.standin.dir, 'recipes', '.faceswap', 'summer-launch', 'thumbs');
    const stored = readdirSync(store);
    expect(stored.length).toBe(FFMPEG ? 2 : 1);
    const again = await sb!.run(['run', 'recipes/kontext-to-kling.yaml', '--reporter', 'plain']);
    expect(again.code).toBe(0);
    const secondRun = newestRun('summer-launch');
    expect(secondRun).not.toBe(firstRun);
    // The same files (one inode) in the store and in both run folders: nothing was decoded again.
    for (const name of stored) {
      const inode = statSync(join(store, name)).ino;
      expect(statSync(join(firstRun, 'thumbs', name)).ino).toBe(inode);
      expect(statSync(join(secondRun, 'thumbs', name)).ino).toBe(inode);
    }
    // A new output gets a new thumbnail; store entries no run folder links any more are removed.
    rmSync(firstRun, { recursive: true });
    rmSync(secondRun, { recursive: true });
    expect(
      (await sb!.run(['run', 'recipes/kontext-to-kling.yaml', '--reporter', 'plain', '--force', 'face']))
        .code,
    ).toBe(0);
    const thirdRun = newestRun('summer-launch');
    const now = readdirSync(store);
    expect(now.filter((n) => stored.includes(n)).length).toBeLessThan(stored.length);
    expect(now.sort()).toEqual(readdirSync(join(thirdRun, 'thumbs')).sort());
  });

  it('shows a failed stage’s error, a skipped stage’s reason, and a fan-out stage as a grid', async () => {
    sb = sandbox({
      models: {
        [NANO]: { base: { queueMs: 0, runMs: 50 }, steps: [{ status: 'failed', error: 'NSFW filter' }] },
      },
    });
    const file = sb.recipe(
      'fan.yaml',
      `version: 1
name: fan
stages:
  gallery:
    model: ${NANO}
    foreach: [a, b, c]
    input: { prompt: "swap <b>\${{ item }}</b>", image_urls: ["https://assets.example.com/\${{ item }}.jpg"] }
  touchup:
    model: ${KONTEXT}
    input: { prompt: touch up, image: "\${{ stages.gallery.outputs[0].images[0] }}" }
`,
    );
    await sb.run(['run', file, '--reporter', 'plain', '--concurrency', '1']);
    const runDir = newestRun('fan');
    const html = readFileSync((await writeRunReport(runDir, { env: process.env })).path, 'utf8');
    expect(sections(html)).toEqual([
      ['gallery', 'failed'],
      ['touchup', 'skipped'],
    ]);
    const gallery = section(html, 'gallery');
    expect(gallery).toMatch(
      /<div class="error"><b>job failed<\/b><div>1 of 3 items failed; item 0: the service reports job [0-9a-f-]{36} failed: &quot;NSFW filter&quot;<\/div><pre>\{&quot;error&quot;:&quot;request failed: \\&quot;NSFW filter\\&quot;&quot;\}<\/pre><\/div>/,
    );
    const cards = [...gallery.matchAll(/<figure class="item st-(\w+)" data-item="(\d+)"/g)].map((m) => [
      m[2],
      m[1],
    ]);
    expect(cards).toEqual([
      ['0', 'failed'],
      ['1', 'succeeded'],
      ['2', 'succeeded'],
    ]);
    // Prompts are text, never markup.
    expect(gallery).toContain('swap &lt;b&gt;a&lt;/b&gt;');
    expect(gallery).not.toContain('<b>a</b>');
    expect(section(html, 'touchup')).toContain(
      'Skipped (dependency-failed): needs stage &quot;gallery&quot;, which failed',
    );
    expect(section(html, 'touchup')).toContain('needs <a href="#stage-gallery">gallery</a>');
  });

  it('shows a re-run served from the cache as cached, with the files it reuses', async () => {
    await exampleRun();
    const again = await sb!.run(['run', 'recipes/kontext-to-kling.yaml', '--reporter', 'plain']);
    expect(again.code).toBe(0);
    const runDir = newestRun('summer-launch');
    const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as {
      stages: Record<string, { status: string }>;
    };
    // Only meaningful where the cache served both stages (the cache is the runner's feature).
    if (Object.values(record.stages).some((s) => s.status !== 'cached')) return;
    const html = readFileSync((await writeRunReport(runDir, { env: process.env })).path, 'utf8');
    expect(sections(html)).toEqual([
      ['face', 'cached'],
      ['motion', 'cached'],
    ]);
    expect(section(html, 'face')).toContain('<li>cached</li>');
    expect(section(html, 'face')).toMatch(/<img src="thumbs\//);
  });

  it('links provenance records and shows their consent subjects and disclosure label', async () => {
    const runDir = await exampleRun();
    const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as {
      stages: { face: { files: string[] }; motion: { files: string[] } };
    };
    // The run wrote a record beside every output: drop motion's (a stage without one) and
    // replace face's with the one this test checks.
    for (const f of record.stages.motion.files) rmSync(join(runDir, '../..', `${f}.provenance.json`));
    const file = record.stages.face.files[0]!;
    writeFileSync(
      join(runDir, '../..', `${file}.provenance.json`),
      JSON.stringify({
        subjects: [{ id: 'ana', release: 'REL-2026-0042' }],
        disclosure: { label: 'AI-generated' },
      }),
    );
    const html = readFileSync((await writeRunReport(runDir, { env: process.env })).path, 'utf8');
    const face = section(html, 'face');
    expect(face).toContain('<li>subjects: ana (REL-2026-0042)</li>');
    expect(face).toContain('<li>disclosure label: “AI-generated”</li>');
    expect(face).toContain(`<a href="../../${file}.provenance.json">provenance</a>`);
    expect(section(html, 'motion')).not.toContain('Consent and disclosure');
  });

  it('percent-encodes a file name with % or # in the links to the file and to its provenance record', async () => {
    const runDir = await exampleRun();
    const path = join(runDir, 'run.json');
    const record = JSON.parse(readFileSync(path, 'utf8')) as { stages: { face: { files: string[] } } };
    const file = record.stages.face.files[0]!;
    const odd = file.replace(/[^/]+$/, 'a%23b c.png');
    const outputs = join(runDir, '../..');
    renameSync(join(outputs, file), join(outputs, odd));
    renameSync(join(outputs, `${file}.provenance.json`), join(outputs, `${odd}.provenance.json`));
    record.stages.face.files = [odd];
    writeFileSync(path, JSON.stringify(record));
    const face = section(
      readFileSync((await writeRunReport(runDir, { env: process.env })).path, 'utf8'),
      'face',
    );
    const encoded = `../../${odd.replace('a%23b c.png', 'a%2523b%20c.png')}`;
    expect(face).toContain(`href="${encoded}"`);
    expect(face).toContain(`<a href="${encoded}.provenance.json">provenance</a>`);
  });
});

describe('consent from the recipe', () => {
  it('shows each stage’s subjects with their releases and the disclosure label when the recipe is known', async () => {
    sb = sandbox({ models: { default: { base: { queueMs: 0, runMs: 50 } } } });
    const file = sb.recipe(
      'recipes/consented.yaml',
      `version: 1
name: consented
consent:
  subjects:
    ana:
      release: REL-2026-0042
      images: [https://assets.example.com/campaign-2026/ana/**]
  assets:
    - match: https://assets.example.com/campaign-2026/**
      rights: Owned footage
  disclosure:
    label: AI-generated
stages:
  face:
    model: ${NANO}
    subjects: [ana]
    input:
      prompt: Put the face of the first image into the second
      image_urls: [https://assets.example.com/campaign-2026/ana/front.jpg, https://assets.example.com/campaign-2026/scene.jpg]
`,
    );
    const run = await sb.run(['run', file, '--reporter', 'plain']);
    expect(run.code, run.stderr).toBe(0);
    // The run wrote a provenance record beside its output; without it, the subjects and the
    // label can only come from the recipe.
    for (const f of sb.runRecord('consented').stages.face!.files)
      rmSync(join(sb.standin.dir, 'outputs', 'consented', `${f}.provenance.json`));
    expect((await sb.run(['report'])).code).toBe(0);
    const html = readFileSync(join(newestRun('consented'), 'report.html'), 'utf8');
    const face = section(html, 'face');
    expect(face).toContain('<li>subjects: ana (REL-2026-0042)</li>');
    expect(face).toContain('<li>disclosure label: “AI-generated”</li>');
    expect(face).toContain('<li>provenance records: <i>none</i></li>');
  });
});

describe('faceswap-pipe report', () => {
  it('rebuilds the newest run’s page and, on request, its JUnit report and summary', async () => {
    await exampleRun({ [KLING]: { steps: [{ status: 'failed' }] } });
    const runDir = newestRun('summer-launch');
    rmSync(join(runDir, 'report.html'), { force: true });
    rmSync(join(runDir, 'thumbs'), { recursive: true, force: true });
    const result = await sb!.run(['report', '--junit', 'ci/junit.xml', '--summary', 'ci/summary.md']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const rel = runDir.slice(sb!.standin.dir.length + 1);
    expect(result.stdout).toBe(
      `report: ${rel}/report.html (2 stages; thumbnails: 1 made, 0 reused)\nsummary: ci/summary.md\njunit: ci/junit.xml\n`,
    );
    expect(existsSync(join(runDir, 'report.html'))).toBe(true);
    expect(checkJunitXml(readFileSync(join(sb!.standin.dir, 'ci/junit.xml'), 'utf8'))).toEqual([]);
    // The recipe is unchanged since the run, so the exact graph comes from it.
    const summary = readFileSync(join(sb!.standin.dir, 'ci/summary.md'), 'utf8');
    expect(summary).toContain('  s0 --> s1\n');
    expect(summary).not.toContain('inferred');
    // A run folder can be named; a missing one or a broken record is reported.
    expect((await sb!.run(['report', rel])).code).toBe(0);
    const missing = await sb!.run(['report', 'outputs/nope/runs/x']);
    expect(missing.code).toBe(66);
    expect(missing.stderr).toMatch(
      /^faceswap-pipe: error: \/.*outputs\/nope\/runs\/x holds no run\.json; name a run folder \(outputs\/<recipe>\/runs\/<time>\/, where run\.json is\), or none for the newest run under --out\n$/,
    );
    // A file (the recipe, say) where a run folder belongs.
    const file = await sb!.run(['report', `${rel}/run.json`]);
    expect(file.code).toBe(66);
    expect(file.stderr).toContain('run.json is a file, not a run folder; name a run folder');
    writeFileSync(join(runDir, 'run.json'), '{"schemaVersion": 1');
    const broken = await sb!.run(['report', rel]);
    expect(broken.code).toBe(65);
    expect(broken.stderr).toContain('is not JSON');
  });

  it('says so when there is no run yet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceswap-report-'));
    temps.push(dir);
    sb = sandbox();
    const result = await sb.run(['report', '--out', dir]);
    expect(result.code).toBe(66);
    expect(result.stderr).toBe(
      `faceswap-pipe: error: no run found under ${dir}/*/runs/; run a recipe first, or name a run folder\n`,
    );
  });
});

describe('a 200-image campaign', () => {
  it('makes one bounded thumbnail per image and a small page (time printed, not asserted)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceswap-200-'));
    temps.push(dir);
    const out = join(dir, 'outputs', 'big');
    const runDir = join(out, 'runs', '2026-01-01T00-00-00.000Z');
    mkdirSync(runDir, { recursive: true });
    const source = join(dir, 'source.png');
    await drawing(source, 1024, 1024, 200);
    const bytes = readFileSync(source);
    const n = 200;
    const attempts = [];
    const files = [];
    const inputs = [];
    const t0 = Date.parse('2026-01-01T00:00:00.000Z');
    for (let i = 0; i < n; i++) {
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      mkdirSync(join(out, 'gallery', id), { recursive: true });
      writeFileSync(join(out, 'gallery', id, 'result.png'), bytes);
      files.push(`gallery/${id}/result.png`);
      attempts.push({
        attempt: 1,
        item: i,
        requestId: id,
        reattached: false,
        startedAt: t0 + i,
        endedAt: t0 + 1000 + i,
        outcome: 'succeeded',
      });
      inputs.push({
        prompt: 'Replace the face',
        image_urls: [source, `https://assets.example.com/sku/${i}.jpg`],
      });
    }
    const record = {
      schemaVersion: 1,
      runId: 'r-200',
      faceswapPipe: '0.1.0',
      runcomfy: null,
      recipe: { name: 'big', file: 'big.yaml', hash: 'h' },
      options: { out: 'outputs' },
      startedAt: '2026-01-01T00:00:00.000Z',
      endedAt: '2026-01-01T00:05:00.000Z',
      status: 'succeeded',
      exitCode: 0,
      submissions: n,
      inFlight: [],
      stages: {
        gallery: {
          model: NANO,
          input: inputs,
          attempts,
          startedAt: t0,
          endedAt: t0 + 300_000,
          status: 'succeeded',
          outputs: files.map((f) => ({
            images: [`https://files.runcomfy.net/${f.split('/')[1]!}/result.png`],
          })),
          files,
          requestIds: attempts.map((a) => a.requestId),
        },
      },
    };
    writeFileSync(join(runDir, 'run.json'), JSON.stringify(record));
    const started = performance.now();
    const report = await writeRunReport(runDir, { env: process.env });
    const cold = performance.now() - started;
    const again = performance.now();
    await writeRunReport(runDir, { env: process.env });
    const warm = performance.now() - again;
    const html = readFileSync(report.path, 'utf8');
    console.log(
      `200-image report: ${cold.toFixed(0)} ms cold (thumbnails made), ${warm.toFixed(0)} ms rebuilt; page ${(html.length / 1024).toFixed(0)} KB, ` +
        `thumbnails ${(readdirSync(join(runDir, 'thumbs')).reduce((t, f) => t + readFileSync(join(runDir, 'thumbs', f)).length, 0) / 1024).toFixed(0)} KB`,
    );
    // 200 outputs, plus the one local input image they share.
    expect(report.thumbnails).toEqual({ made: n + 1, reused: 0 });
    expect(readdirSync(join(runDir, 'thumbs'))).toHaveLength(n + 1);
    expect([...html.matchAll(/data-item="/g)]).toHaveLength(n);
    expect([...html.matchAll(/<img [^>]*loading="lazy"/g)].length).toBe(2 * n);
    expect(html.length).toBeLessThan(1_000_000);
    const meta = await sharp(join(runDir, 'thumbs', readdirSync(join(runDir, 'thumbs'))[0]!)).metadata();
    expect(Math.max(meta.width, meta.height)).toBeLessThanOrEqual(320);
  });
});

describe('contact sheet file names', () => {
  it('keeps "?" and "#" in a local file name; only a URL has a query and a fragment', () => {
    expect(mediaKind('assets/ha#sh.jpg')).toBe('image');
    expect(mediaKind('assets/q?m.png')).toBe('image');
    expect(mediaKind('https://cdn.example.com/a.png?sig=x#top')).toBe('image');
    expect(baseName('assets/q?m.jpg')).toBe('q?m.jpg');
    expect(baseName('assets/100%25.jpg')).toBe('100%25.jpg');
    expect(baseName('https://cdn.example.com/a%20b.png?sig=x')).toBe('a b.png');
  });
});
