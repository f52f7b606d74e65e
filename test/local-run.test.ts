import { execa } from 'execa';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/faceswap-pipe.js');

/** An environment with no token and no runcomfy on PATH: the offline path must need neither. */
function offlineEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: '/usr/bin:/bin', HOME: tmpdir(), NO_COLOR: '1' };
  return env;
}

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** A temp copy of recipes/ (the demo and its assets), so runs write their outputs there. */
function workspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'faceswap-local-'));
  dirs.push(dir);
  cpSync(join(ROOT, 'recipes'), join(dir, 'recipes'), {
    recursive: true,
    filter: (src) => !src.includes('.faceswap'),
  });
  return dir;
}

function run(dir: string, args: readonly string[]) {
  return execa(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: offlineEnv(),
    extendEnv: false,
    reject: false,
  });
}

describe('the offline engine through the runner', () => {
  it("runs local jobs one at a time (one engine worker), so a queued stage's timeout does not run while it waits", async () => {
    const dir = workspace();
    // Three different requests (one identical to another would share its job).
    const inputs = [
      'identity: assets/astronaut-eileen-collins.jpg, scene: assets/grace-hopper.jpg',
      'identity: assets/astronaut-eileen-collins.jpg, scene: assets/grace-hopper.jpg, face_index: 0',
      'identity: assets/grace-hopper.jpg, scene: assets/astronaut-eileen-collins.jpg',
    ];
    const stage = (id: string, i: number) => `  ${id}:
    model: local/face-swap
    subjects: [${i === 2 ? 'hopper' : 'collins'}]
    timeout: 1m
    input: { ${inputs[i]} }
`;
    writeFileSync(
      join(dir, 'recipes/three.yaml'),
      `version: 1
name: three
stages:
${stage('one', 0)}${stage('two', 1)}${stage('three', 2)}consent:
  subjects:
    collins: { release: PD, images: [assets/astronaut-eileen-collins.jpg] }
    hopper: { release: PD, images: [assets/grace-hopper.jpg] }
  assets: [{ match: assets/*.jpg, rights: public domain }]
  disclosure: { label: AI-generated }
`,
    );
    const result = await run(dir, ['run', 'recipes/three.yaml', '--reporter', 'plain', '-j', '3', '--force']);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    const runs = join(dir, 'outputs/three/runs');
    const record = JSON.parse(readFileSync(join(runs, readdirSync(runs)[0]!, 'run.json'), 'utf8')) as {
      stages: Record<string, { attempts: { startedAt: number; endedAt: number }[] }>;
    };
    const spans = Object.values(record.stages)
      .map((s) => [s.attempts[0]!.startedAt, s.attempts[0]!.endedAt] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('downloads URL inputs (the same swap recipe as for RunComfy), and checks every redirect hop', async () => {
    const dir = workspace();
    const assets = join(dir, 'recipes/assets');
    const server = createServer((req, res) => {
      if (req.url === '/moved/hopper') {
        res.writeHead(302, { location: '/files/grace-hopper.jpg' });
        res.end();
      } else if (req.url === '/sneaky') {
        res.writeHead(302, { location: 'http://10.1.2.3/x.jpg' });
        res.end();
      } else if (req.url?.startsWith('/files/')) {
        res.writeHead(200, { 'content-type': 'image/jpeg' });
        res.end(readFileSync(join(assets, req.url.slice('/files/'.length))));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const recipe = (name: string, scene: string) => `version: 1
name: ${name}
stages:
  swap:
    model: local/face-swap
    subjects: [collins]
    input:
      identity: ${base}/files/astronaut-eileen-collins.jpg
      scene: ${scene}
consent:
  subjects:
    collins: { release: PD-NASA, images: ["${base}/files/astronaut-eileen-collins.jpg"] }
  assets: [{ match: "${base}/**", rights: test server }]
  disclosure: { label: AI-generated }
`;
    writeFileSync(join(dir, 'recipes/remote.yaml'), recipe('remote', `${base}/moved/hopper`));
    writeFileSync(join(dir, 'recipes/sneaky.yaml'), recipe('sneaky', `${base}/sneaky`));
    try {
      const ok = await run(dir, [
        'run',
        'recipes/remote.yaml',
        '--reporter',
        'plain',
        '--allow-insecure-local',
      ]);
      expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
      const runs = join(dir, 'outputs/remote/runs');
      const record = JSON.parse(readFileSync(join(runs, readdirSync(runs)[0]!, 'run.json'), 'utf8')) as {
        stages: Record<string, { files: string[] }>;
      };
      const out = join(dir, 'outputs/remote', record.stages['swap']!.files[0]!);
      expect((await sharp(out).metadata()).width).toBe(
        (await sharp(join(assets, 'grace-hopper.jpg')).metadata()).width,
      );
      // Downloaded inputs do not stay next to the outputs.
      expect(readdirSync(join(dir, 'outputs/remote/swap')).filter((n) => n.startsWith('.'))).toEqual([]);
      // A public-looking URL that redirects to a private address is refused, like the address itself.
      const sneaky = await run(dir, [
        'run',
        'recipes/sneaky.yaml',
        '--reporter',
        'plain',
        '--allow-insecure-local',
      ]);
      expect(sneaky.exitCode).toBe(1);
      expect(sneaky.stdout).toMatch(/its redirect to http:\/\/10\.1\.2\.3\/x\.jpg points at 10\.1\.2\.3/);
    } finally {
      server.close();
    }
  });

  it('runs the README demo end to end with no token, no network and no runcomfy client', async () => {
    const dir = workspace();
    const result = await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('no runcomfy calls');
    const runs = join(dir, 'outputs/local-demo/runs');
    const record = JSON.parse(readFileSync(join(runs, readdirSync(runs)[0]!, 'run.json'), 'utf8')) as {
      stages: Record<
        string,
        { status: string; files: string[]; outputs: { images: string[] }; input: { scene: string } }
      >;
    };
    const swap = record.stages['swap']!;
    expect(swap.status).toBe('succeeded');
    // The second stage received the first stage's output file as its scene.
    expect(record.stages['swap-back']!.input.scene).toBe(swap.outputs.images[0]);
    const out = join(dir, 'outputs/local-demo', swap.files[0]!);
    const scene = join(dir, 'recipes/assets/grace-hopper.jpg');
    const [a, b] = await Promise.all([
      sharp(out).removeAlpha().raw().toBuffer({ resolveWithObject: true }),
      sharp(scene).removeAlpha().raw().toBuffer({ resolveWithObject: true }),
    ]);
    expect([a.info.width, a.info.height]).toEqual([b.info.width, b.info.height]);
    // The face region changed; a corner of the background did not.
    const diff = (x0: number, y0: number, w: number, h: number) => {
      let total = 0;
      for (let y = y0; y < y0 + h; y++)
        for (let x = x0; x < x0 + w; x++)
          for (let c = 0; c < 3; c++) {
            const i = (y * a.info.width + x) * 3 + c;
            total += Math.abs(a.data[i]! - b.data[i]!);
          }
      return total / (w * h * 3);
    };
    expect(diff(200, 230, 110, 110)).toBeGreaterThan(8);
    expect(diff(0, 0, 60, 60)).toBeLessThan(1);
    // A second run is answered from the cache: nothing is swapped again.
    const again = await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/\[cached\] swap /);
    // The first stage's identity file goes away: only a run that would swap it again needs it.
    renameSync(join(dir, 'recipes/assets/astronaut-eileen-collins.jpg'), join(dir, 'moved.jpg'));
    const status = await run(dir, ['status', 'recipes/local-demo.yaml']);
    expect(status.exitCode).toBe(0);
    expect(status.stderr).toContain(
      'warning: input field "identity" of stage "swap" is the path assets/astronaut-eileen-collins.jpg, but no such file exists',
    );
    expect((await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain'])).exitCode).toBe(0);
    const forced = await run(dir, [
      'run',
      'recipes/local-demo.yaml',
      '--force',
      'swap',
      '--reporter',
      'plain',
    ]);
    expect(forced.exitCode).toBe(66);
    expect(forced.stderr).toContain('error: input field "identity" of stage "swap" is the path');
    expect((await run(dir, ['validate', 'recipes/local-demo.yaml'])).exitCode).toBe(66);
  });

  it('a local video stage without ffmpeg on PATH is refused before anything runs (exit 69)', async () => {
    const dir = workspace();
    writeFileSync(join(dir, 'recipes/assets/clip.mp4'), 'not decoded: refused before');
    writeFileSync(
      join(dir, 'recipes/video.yaml'),
      `version: 1
name: video
consent:
  subjects:
    collins: { release: PD, images: [assets/astronaut-eileen-collins.jpg] }
  assets: [{ match: assets/*, rights: public domain }]
  disclosure: { label: AI-generated }
stages:
  still:
    model: local/face-swap
    subjects: [collins]
    input: { identity: assets/astronaut-eileen-collins.jpg, scene: assets/grace-hopper.jpg }
  clip:
    model: local/face-swap-video
    subjects: [collins]
    input: { identity: assets/astronaut-eileen-collins.jpg, video: assets/clip.mp4 }
`,
    );
    // A PATH with node and nothing else.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const result = await execa(process.execPath, [BIN, 'run', 'recipes/video.yaml', '--reporter', 'plain'], {
      cwd: dir,
      env: { ...offlineEnv(), PATH: bin },
      extendEnv: false,
      reject: false,
    });
    expect(result.exitCode).toBe(69);
    expect(result.stderr).toContain(
      'stage "clip" runs local/face-swap-video, which needs ffmpeg and ffprobe on PATH',
    );
    expect(existsSync(join(dir, 'outputs/video/runs'))).toBe(false);
  });

  it("the offline engine's results do not expire with cache.url_ttl, and missing files are made again", async () => {
    const dir = workspace();
    expect((await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain'])).exitCode).toBe(0);
    const jobs = join(dir, 'recipes/.faceswap/local-demo/jobs');
    for (const name of readdirSync(jobs).filter((f) => f.endsWith('.json'))) {
      const path = join(jobs, name);
      const record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      writeFileSync(path, JSON.stringify({ ...record, finishedAt: '2020-01-01T00:00:00.000Z' }));
    }
    // A dependent that runs again does not make its upstream run again: its outputs are files.
    const dry = await run(dir, ['run', 'recipes/local-demo.yaml', '--dry-run', '--force', 'swap-back']);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain('swap: cached');
    const runs = join(dir, 'outputs/local-demo/runs');
    const record = JSON.parse(readFileSync(join(runs, readdirSync(runs).sort()[0]!, 'run.json'), 'utf8')) as {
      stages: Record<string, { files: string[] }>;
    };
    rmSync(join(dir, 'outputs/local-demo', record.stages['swap']!.files[0]!));
    const status = await run(dir, ['status', 'recipes/local-demo.yaml']);
    expect(status.stdout).toMatch(
      /swap +local\/face-swap +stale +its files are missing; the offline engine makes them again \(no cost\)/,
    );
    expect(status.stdout).toMatch(
      /^a run would call nothing: the offline engine makes missing files again$/m,
    );
    const again = await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain']);
    expect(again.exitCode).toBe(0);
    expect(existsSync(join(dir, 'outputs/local-demo', record.stages['swap']!.files[0]!))).toBe(true);
    expect(again.stdout).toMatch(/\[cached\] swap-back /);
  });

  it('a local input file replaced under the same name is not answered from the cache', async () => {
    const dir = workspace();
    expect((await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain'])).exitCode).toBe(0);
    const identity = join(dir, 'recipes/assets/astronaut-eileen-collins.jpg');
    // Another picture of the same face under the same name (mirrored): a new swap is due.
    const mirrored = await sharp(identity).flop().jpeg().toBuffer();
    writeFileSync(identity, mirrored);
    const status = await run(dir, ['status', 'recipes/local-demo.yaml']);
    expect(status.stdout).toContain('a local file it reads changed since its cached result was made');
    const again = await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).not.toMatch(/\[cached\] swap /);
    expect(again.stdout).toMatch(/\[ok\] swap /);
    // And the run after that is answered from the cache again.
    const third = await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain']);
    expect(third.stdout).toMatch(/\[cached\] swap /);
    // A new disclosure label relabels the cached outputs; an upstream output the next stage
    // reads is not a local input of its own, so nothing runs again for it.
    const recipe = join(dir, 'recipes/local-demo.yaml');
    writeFileSync(recipe, readFileSync(recipe, 'utf8').replace(/label: .*/, 'label: Another label'));
    expect((await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain'])).exitCode).toBe(0);
    const dry = await run(dir, ['run', 'recipes/local-demo.yaml', '--dry-run']);
    expect(dry.stdout).not.toContain('changed since');
    expect(dry.stdout).toContain('swap-back: cached');
  });

  it('gives a local stage the files of an upstream stage (relative to the outputs folder) from any working folder', async () => {
    const dir = workspace();
    const recipe = join(dir, 'recipes/local-demo.yaml');
    writeFileSync(
      recipe,
      readFileSync(recipe, 'utf8').replace(
        'scene: ${{ stages.swap.outputs.images[0] }}',
        'scene: ${{ stages.swap.files[0] }}',
      ),
    );
    const result = await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const runs = join(dir, 'outputs/local-demo/runs');
    const record = JSON.parse(readFileSync(join(runs, readdirSync(runs)[0]!, 'run.json'), 'utf8')) as {
      stages: Record<string, { status: string; files: string[]; input: { scene: string } }>;
    };
    expect(record.stages['swap-back']!.status).toBe('succeeded');
    expect(record.stages['swap-back']!.input.scene).toBe(
      join(dir, 'outputs/local-demo', record.stages['swap']!.files[0]!),
    );
    // The cache finds the same job again: the key is built from the same anchored path.
    const again = await run(dir, ['run', 'recipes/local-demo.yaml', '--reporter', 'plain']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/\[cached\] swap-back /);
  });

  it('--dry-run shows local stages as offline-engine inputs, not as runcomfy commands', async () => {
    const dir = workspace();
    const result = await run(dir, ['run', 'recipes/local-demo.yaml', '--dry-run']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('offline engine (local/face-swap), no runcomfy call');
    expect(result.stdout).not.toContain('$ runcomfy');
  });

  it('fails a stage with a clear message when the scene has no face (exit 1)', async () => {
    const dir = workspace();
    await sharp({ create: { width: 320, height: 240, channels: 3, background: '#8899aa' } })
      .jpeg()
      .toFile(join(dir, 'recipes/assets/wall.jpg'));
    const recipe = readFileSync(join(dir, 'recipes/local-demo.yaml'), 'utf8')
      .replace('hopper: assets/grace-hopper.jpg', 'hopper: assets/wall.jpg')
      .replace('images: [assets/grace-hopper.jpg]', 'images: [assets/wall.jpg]');
    writeFileSync(join(dir, 'recipes/noface.yaml'), recipe.replace('name: local-demo', 'name: noface'));
    const result = await run(dir, ['run', 'recipes/noface.yaml', '--reporter', 'plain']);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/\[fail\] swap invalid input: .*no face/i);
    expect(result.stdout).toContain('[skip] swap-back needs stage "swap", which failed');
  });

  it('a local stage past its timeout fails as timed out, and says so (not "cancelled")', async () => {
    const dir = workspace();
    const scenes = Array.from({ length: 40 }, () => '      - assets/grace-hopper.jpg').join('\n');
    const recipe = readFileSync(join(dir, 'recipes/local-demo.yaml'), 'utf8')
      .replace('name: local-demo', 'name: slow')
      .replace('    subjects: [collins]\n', '    subjects: [collins]\n    timeout: 1s\n    retries: 0\n')
      .replace('      scene: ${{ vars.hopper }}', `      scene:\n${scenes}`);
    writeFileSync(join(dir, 'recipes/slow.yaml'), recipe);
    const result = await run(dir, ['run', 'recipes/slow.yaml', '--reporter', 'plain']);
    // Timed out: a temporary failure, safe to re-run (75).
    expect(result.exitCode).toBe(75);
    expect(result.stdout).toMatch(/\[fail\] swap timed out: .*the face swap timed out and was stopped/);
    expect(result.stdout).not.toContain('was cancelled');
  });

  it('Ctrl-C stops a long local batch promptly and records the run as interrupted (exit 130)', async () => {
    const dir = workspace();
    const scenes = Array.from({ length: 40 }, () => '      - assets/grace-hopper.jpg').join('\n');
    const recipe = readFileSync(join(dir, 'recipes/local-demo.yaml'), 'utf8')
      .replace('name: local-demo', 'name: batch')
      .replace('      scene: ${{ vars.hopper }}', `      scene:\n${scenes}`);
    writeFileSync(join(dir, 'recipes/batch.yaml'), recipe);
    const child = run(dir, ['run', 'recipes/batch.yaml', '--reporter', 'plain']);
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (!stdout.includes('[progress] swap in progress') && Date.now() < deadline) await sleep(50);
    await sleep(1_500);
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode).toBe(130);
    const runs = join(dir, 'outputs/batch/runs');
    const record = JSON.parse(readFileSync(join(runs, readdirSync(runs)[0]!, 'run.json'), 'utf8')) as {
      status: string;
      stages: Record<string, { status: string }>;
    };
    expect(record.status).toBe('interrupted');
    expect(record.stages['swap']!.status).toBe('failed');
    // No half-finished job folder is left behind as if it were a result.
    const jobs = existsSync(join(dir, 'outputs/batch/swap'))
      ? readdirSync(join(dir, 'outputs/batch/swap'))
      : [];
    expect(jobs.filter((j) => !j.startsWith('.'))).toEqual([]);
  });
});
