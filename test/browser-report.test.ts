import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sandbox, type RunnerSandbox } from './helpers/runner.js';

/**
 * The contact sheet in a real browser: Debian's chromium, driven by playwright-core (no browser
 * download). `.ci/run` installs chromium, so in CI (CI=true) a missing browser fails this test;
 * on a developer's machine without it the test is skipped and says why.
 */
const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = process.env['CI'] === 'true';
const MISSING = `chromium is not installed at ${CHROMIUM} (Debian: apt-get install -y chromium; .ci/run installs it)`;
const runIt = HAVE_CHROMIUM || IN_CI ? it : it.skip;
const title = (name: string) => (HAVE_CHROMIUM || IN_CI ? name : `${name} [skipped: ${MISSING}]`);

const KONTEXT = 'blackforestlabs/flux-1-kontext/pro/edit';
const KLING = 'kling/kling-2-6/motion-control-pro';
const NANO = 'google/nano-banana-2/edit';
const EXAMPLE = readFileSync(new URL('../recipes/kontext-to-kling.yaml', import.meta.url), 'utf8');
const GALLERY = readFileSync(new URL('../recipes/sku-gallery.yaml', import.meta.url), 'utf8');

let browser: Browser | undefined;
let sb: RunnerSandbox | undefined;
beforeAll(async () => {
  if (HAVE_CHROMIUM)
    browser = await chromium.launch({
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
});
afterAll(async () => {
  await browser?.close();
});
afterEach(() => {
  sb?.cleanup();
  sb = undefined;
});

/** A drawn picture (shapes on a gradient), so no photograph of a person is used. */
async function drawing(path: string, width: number, height: number, hue: number): Promise<void> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="hsl(${hue},60%,60%)"/><circle cx="${width / 2}" cy="${height * 0.45}" r="${width * 0.22}" fill="#f1c9a5"/></svg>`;
  await sharp(Buffer.from(svg)).png().toFile(path);
}

interface PageFacts {
  stages: { stage: string; status: string }[];
  images: { src: string; naturalWidth: number }[];
  /** Fan-out cards' statuses. */
  items: string[];
  overflow: number;
}

/** Opens a report and collects what the checks need, failing on console errors and non-file requests. */
async function openReport(path: string, shots: string): Promise<PageFacts> {
  if (!browser) throw new Error(MISSING);
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(path).href, { waitUntil: 'load' });
  // Lazy images load as they scroll into view; load them all now, then check each one. (The
  // browser-side code is a string: this project compiles without the DOM's types.)
  await page.evaluate(`(async () => {
    for (const img of document.images) img.loading = 'eager';
    await Promise.all([...document.images].map((img) => img.decode().catch(() => undefined)));
  })()`);
  const facts = await page.evaluate<PageFacts>(`({
    stages: [...document.querySelectorAll('section.stage')].map((s) => ({ stage: s.dataset.stage, status: s.dataset.status })),
    images: [...document.images].map((img) => ({ src: img.getAttribute('src'), naturalWidth: img.naturalWidth })),
    items: [...document.querySelectorAll('figure.item')].map((f) => f.dataset.status),
    // Usable on a laptop screen: nothing wider than the window.
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  })`);
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'screen.png'), fullPage: true });
  await page.emulateMedia({ media: 'print' });
  await page.screenshot({ path: join(shots, 'print.png'), fullPage: true });
  await page.close();
  expect(errors, 'console errors').toEqual([]);
  expect(
    requests.filter((u) => !u.startsWith('file:')),
    'requests other than file://',
  ).toEqual([]);
  return facts;
}

function newestRun(recipe: string): string {
  const runs = join(sb!.standin.dir, 'outputs', recipe, 'runs');
  return join(runs, readdirSync(runs).sort().at(-1)!);
}

function recordStatuses(runDir: string): { stage: string; status: string }[] {
  const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as {
    stages: Record<string, { status: string }>;
  };
  return Object.entries(record.stages).map(([stage, r]) => ({ stage, status: r.status }));
}

describe('the contact sheet in chromium', () => {
  runIt(
    title(
      'shows the example run with one failed stage: every image loads, statuses match run.json, no network',
    ),
    async () => {
      if (!HAVE_CHROMIUM) throw new Error(MISSING);
      sb = sandbox();
      mkdirSync(join(sb.standin.dir, 'fixtures'));
      await drawing(join(sb.standin.dir, 'fixtures/face.png'), 768, 1024, 30);
      sb.standin.writeScenario({
        models: {
          [KONTEXT]: { steps: [75] },
          [KLING]: { steps: [{ status: 'failed', error: 'motion model crashed' }] },
        },
        downloads: { 'https://files.runcomfy.net/{request_id}/result.png': { file: 'fixtures/face.png' } },
      });
      const file = sb.recipe('recipes/kontext-to-kling.yaml', EXAMPLE);
      expect((await sb.run(['run', file, '--reporter', 'plain'])).code).toBe(1);
      const report = await sb.run(['report']);
      expect(report.code, report.stderr).toBe(0);
      const runDir = newestRun('summer-launch');
      const facts = await openReport(join(runDir, 'report.html'), join(sb.standin.dir, 'screenshots'));
      expect(facts.stages).toEqual(recordStatuses(runDir));
      expect(facts.stages.map((s) => s.status)).toEqual(['succeeded', 'failed']);
      // The face output, and the same file as the motion stage's input.
      expect(facts.images).toHaveLength(2);
      for (const img of facts.images) expect(img.naturalWidth, img.src).toBeGreaterThan(0);
      expect(facts.overflow).toBeLessThanOrEqual(0);
      expect(existsSync(join(sb.standin.dir, 'screenshots', 'screen.png'))).toBe(true);
    },
  );

  runIt(
    title('shows the SKU gallery example (a batch split into calls, one failing) as a grid of loaded images'),
    async () => {
      if (!HAVE_CHROMIUM) throw new Error(MISSING);
      sb = sandbox();
      mkdirSync(join(sb.standin.dir, 'fixtures'));
      await drawing(join(sb.standin.dir, 'fixtures/out.png'), 800, 1000, 200);
      sb.standin.writeScenario({
        models: {
          [NANO]: { base: { queueMs: 0, runMs: 50 }, steps: [{ status: 'failed', error: 'NSFW filter' }] },
        },
        downloads: { 'https://files.runcomfy.net/{request_id}/result.png': { file: 'fixtures/out.png' } },
      });
      const file = sb.recipe('recipes/sku-gallery.yaml', GALLERY);
      const run = await sb.run(['run', file, '--reporter', 'plain']);
      expect(run.code, run.stderr).toBe(1);
      expect((await sb.run(['report'])).code).toBe(0);
      const runDir = newestRun('sku-gallery');
      const facts = await openReport(join(runDir, 'report.html'), join(sb.standin.dir, 'screenshots'));
      expect(facts.stages).toEqual(recordStatuses(runDir));
      expect(facts.images.length).toBeGreaterThan(0);
      for (const img of facts.images) expect(img.naturalWidth, img.src).toBeGreaterThan(0);
      expect(facts.items.length).toBeGreaterThan(1);
      expect(facts.items.filter((i) => i === 'failed')).toHaveLength(1);
      expect(facts.overflow).toBeLessThanOrEqual(0);
    },
  );
});
