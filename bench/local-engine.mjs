#!/usr/bin/env node
// Benchmark of the offline local face-swap engine (src/backends/local), on the committed
// public-domain fixtures. Measures, in one run:
//   - model load (openLocalEngine: worker start + model files + wasm init),
//   - per-still swap latency at 512 px and 1024 px (after a warm-up swap), median and worst,
//   - peak RSS of the process (main thread + the engine's worker + sharp's native memory),
//   - frames per second of the video path, when ffmpeg is on PATH.
// Targets from the issue: 512 px still <= 1 s on one core, RSS < 400 MB.
//
// Needs a build first: `npx tsc -p tsconfig.build.json && node bench/local-engine.mjs`.
// bench/run.mjs can import and call runLocalEngineBench(), which returns the figures.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(root, 'test', 'fixtures', 'images');
const ASTRONAUT = join(fixtures, 'astronaut-eileen-collins.jpg');
const HOPPER = join(fixtures, 'grace-hopper.jpg');

/** Runs the benchmark; prints a table unless `quiet`, and returns the figures. */
export async function runLocalEngineBench({ runs = 5, quiet = false } = {}) {
  const { openLocalEngine } = await import(join(root, 'dist', 'backends', 'local', 'index.js'));
  const dir = await mkdtemp(join(tmpdir(), 'local-engine-bench-'));
  const log = quiet ? () => undefined : (line) => console.log(line);
  try {
    const scenes = {};
    for (const side of [512, 1024]) {
      scenes[side] = join(dir, `scene-${side}.png`);
      await sharp(ASTRONAUT).resize(side, side, { kernel: 'lanczos3' }).png().toFile(scenes[side]);
    }

    const rssBefore = process.memoryUsage().rss;
    let started = performance.now();
    const engine = await openLocalEngine();
    const modelLoadMs = performance.now() - started;
    const results = { cores: availableParallelism(), modelLoadMs, stills: {}, video: undefined };
    try {
      for (const side of [512, 1024]) {
        const output = join(dir, `out-${side}.png`);
        const swap = () =>
          engine.swap({ identityPath: HOPPER, targetPath: scenes[side], outputPath: output });
        const warm = await swap();
        if (warm.kind !== 'swapped') throw new Error(warm.message);
        const times = [];
        for (let i = 0; i < runs; i++) {
          started = performance.now();
          const result = await swap();
          times.push(performance.now() - started);
          if (result.kind !== 'swapped') throw new Error(result.message);
        }
        times.sort((a, b) => a - b);
        results.stills[side] = { medianMs: times[Math.floor(times.length / 2)], worstMs: times.at(-1), runs };
      }
      results.peakRssStillsMb = process.resourceUsage().maxRSS / 1024;
      results.peakRssMb = results.peakRssStillsMb;
      results.rssBeforeEngineMb = rssBefore / 1024 / 1024;

      if (
        ['ffmpeg', 'ffprobe'].every((tool) => spawnSync(tool, ['-version'], { stdio: 'ignore' }).status === 0)
      ) {
        const clip = join(dir, 'clip.mp4');
        const zoom =
          "scale=640:750,zoompan=z='1+0.002*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=60:s=512x600:fps=30";
        const made = spawnSync('ffmpeg', [
          '-v',
          'error',
          '-y',
          '-loop',
          '1',
          '-i',
          HOPPER,
          '-vf',
          zoom,
          '-t',
          '2',
          '-c:v',
          'libx264',
          '-pix_fmt',
          'yuv420p',
          clip,
        ]);
        if (made.status !== 0) throw new Error(`ffmpeg could not make the clip: ${made.stderr}`);
        started = performance.now();
        const video = await engine.swapVideo({
          identityPath: ASTRONAUT,
          targetPath: clip,
          outputPath: join(dir, 'out.mp4'),
        });
        const seconds = (performance.now() - started) / 1000;
        if (video.kind === 'failed') throw new Error(video.message);
        results.video = {
          frames: video.frames,
          width: video.width,
          height: video.height,
          fps: video.frames / seconds,
        };
        results.peakRssMb = process.resourceUsage().maxRSS / 1024;
      }
    } finally {
      await engine.close();
    }

    log(`local engine (${results.cores} cores available; tfjs wasm runs on one, sharp may use all)`);
    log(`  model load              ${results.modelLoadMs.toFixed(0)} ms`);
    for (const [side, s] of Object.entries(results.stills)) {
      const verdict =
        side === '512'
          ? s.medianMs <= 1000
            ? '  (target <= 1000 ms: met)'
            : '  (target <= 1000 ms: MISSED)'
          : '';
      log(
        `  still ${side} px`.padEnd(26) +
          `median ${s.medianMs.toFixed(0)} ms, worst ${s.worstMs.toFixed(0)} ms over ${s.runs}${verdict}`,
      );
    }
    if (results.video) {
      const v = results.video;
      log(
        `  video ${v.width}x${v.height}`.padEnd(26) + `${v.fps.toFixed(1)} frames/s over ${v.frames} frames`,
      );
    } else {
      log('  video                   skipped: ffmpeg/ffprobe not on PATH');
    }
    const target = (mb) => (mb < 400 ? '  (target < 400 MB: met)' : '  (target < 400 MB: MISSED)');
    log(
      `  peak RSS, stills        ${results.peakRssStillsMb.toFixed(0)} MB${target(results.peakRssStillsMb)}`,
    );
    log(`  peak RSS, with video    ${results.peakRssMb.toFixed(0)} MB${target(results.peakRssMb)}`);
    log(`  RSS before the engine   ${results.rssBeforeEngineMb.toFixed(0)} MB (node + sharp + fixtures)`);
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runLocalEngineBench();
}
