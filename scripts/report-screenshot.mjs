#!/usr/bin/env node
// Regenerates docs/images/report-example.png: runs recipes/kontext-to-kling.yaml against the
// runcomfy stand-in (test/standin), with drawn pictures as the model outputs (no photographs of
// people), rebuilds the run's contact sheet with `faceswap-pipe report`, and screenshots it in
// Debian's chromium. The face stage is rate limited once, so the page shows a retry.
// Needs a build and chromium first:
//   npx tsc -p tsconfig.build.json && node scripts/report-screenshot.mjs [output.png]
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import sharp from 'sharp';

const root = fileURLToPath(new URL('..', import.meta.url));
const output = process.argv[2] ?? join(root, 'docs', 'images', 'report-example.png');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const MAX_BYTES = 400 * 1024;

if (!existsSync(join(root, 'dist', 'cli', 'main.js')))
  throw new Error('build first: npx tsc -p tsconfig.build.json');
if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium`);

/** A drawn portrait: a face of simple shapes on a gradient. */
function drawing(width, height, hue, label) {
  return Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},55%,78%)"/><stop offset="1" stop-color="hsl(${(hue + 50) % 360},50%,45%)"/></linearGradient></defs>
<rect width="100%" height="100%" fill="url(#g)"/>
<ellipse cx="${width / 2}" cy="${height * 0.95}" rx="${width * 0.38}" ry="${height * 0.3}" fill="hsl(${(hue + 180) % 360},35%,35%)"/>
<ellipse cx="${width / 2}" cy="${height * 0.42}" rx="${width * 0.2}" ry="${height * 0.19}" fill="#eec1a0"/>
<path d="M ${width * 0.3} ${height * 0.38} Q ${width / 2} ${height * 0.1} ${width * 0.7} ${height * 0.38} Q ${width / 2} ${height * 0.24} ${width * 0.3} ${height * 0.38}" fill="#6b3e26"/>
<circle cx="${width * 0.43}" cy="${height * 0.42}" r="${width * 0.02}" fill="#2f6b3a"/><circle cx="${width * 0.57}" cy="${height * 0.42}" r="${width * 0.02}" fill="#2f6b3a"/>
<path d="M ${width * 0.44} ${height * 0.51} Q ${width / 2} ${height * 0.55} ${width * 0.56} ${height * 0.51}" stroke="#8a3b3b" stroke-width="${width * 0.012}" fill="none" stroke-linecap="round"/>
<text x="${width / 2}" y="${height * 0.08}" font-family="sans-serif" font-size="${width * 0.05}" text-anchor="middle" fill="#fff">${label}</text>
</svg>`);
}

const dir = await mkdtemp(join(tmpdir(), 'report-screenshot-'));
try {
  const fixtures = join(dir, 'fixtures');
  await mkdir(fixtures);
  await mkdir(join(dir, 'recipes'));
  await mkdir(join(dir, 'config'));
  await sharp(drawing(768, 1024, 28, 'demo output'))
    .png()
    .toFile(join(fixtures, 'face.png'));
  const downloads = { 'https://files.runcomfy.net/{request_id}/result.png': { file: 'fixtures/face.png' } };
  try {
    execFileSync('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-loop',
      '1',
      '-i',
      join(fixtures, 'face.png'),
      '-t',
      '1',
      '-r',
      '10',
      '-vf',
      'scale=360:480',
      '-pix_fmt',
      'yuv420p',
      '-y',
      join(fixtures, 'dance.mp4'),
    ]);
    downloads['https://files.runcomfy.net/{request_id}/output.mp4'] = { file: 'fixtures/dance.mp4' };
  } catch {
    console.warn('ffmpeg is not available: the video shows as a link, without a poster');
  }
  await writeFile(
    join(dir, 'scenario.json'),
    JSON.stringify({
      models: {
        'blackforestlabs/flux-1-kontext/pro/edit': { base: { queueMs: 200, runMs: 600 }, steps: [75] },
        default: { base: { queueMs: 200, runMs: 900 } },
      },
      downloads,
    }),
  );
  await copyFile(
    join(root, 'recipes', 'kontext-to-kling.yaml'),
    join(dir, 'recipes', 'kontext-to-kling.yaml'),
  );
  const env = {
    ...process.env,
    PATH: [join(root, 'test', 'standin', 'bin'), process.env.PATH ?? ''].join(delimiter),
    RUNCOMFY_TOKEN: 'standin-token',
    RUNCOMFY_CONFIG_DIR: join(dir, 'config'),
    RUNCOMFY_MODEL_API_BASE: '',
    RUNCOMFY_STANDIN_SCENARIO: join(dir, 'scenario.json'),
    RUNCOMFY_STANDIN_STATE: join(dir, 'state'),
    FACESWAP_POLL_INTERVAL_MS: '100',
    FACESWAP_RETRY_BASE_MS: '200',
  };
  const cli = join(root, 'bin', 'faceswap-pipe.js');
  execFileSync(process.execPath, [cli, 'run', 'recipes/kontext-to-kling.yaml', '--reporter', 'plain'], {
    cwd: dir,
    env,
    stdio: 'inherit',
  });
  execFileSync(process.execPath, [cli, 'report'], { cwd: dir, env, stdio: 'inherit' });
  const runs = join(dir, 'outputs', 'summer-launch', 'runs');
  const page = join(runs, (await readdir(runs)).sort().at(-1), 'report.html');

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const tab = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
    await tab.goto(`file://${page}`);
    await tab.evaluate(async () => {
      for (const img of document.images) img.loading = 'eager';
      await Promise.all([...document.images].map((img) => img.decode().catch(() => undefined)));
    });
    // Let the media controls settle (they show a spinner while they lay out).
    await tab.waitForTimeout(1500);
    const raw = join(dir, 'raw.png');
    await tab.screenshot({ path: raw, fullPage: true });
    await mkdir(join(output, '..'), { recursive: true });
    // A palette PNG keeps the page's flat colours and text sharp at a fraction of the size.
    await sharp(raw).png({ palette: true, quality: 90, effort: 10, compressionLevel: 9 }).toFile(output);
  } finally {
    await browser.close();
  }
  const size = (await stat(output)).size;
  console.log(`wrote ${output} (${(size / 1024).toFixed(0)} KB)`);
  if (size > MAX_BYTES) throw new Error(`${output} is larger than ${MAX_BYTES / 1024} KB`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
