import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  landmarkError,
  measureSwap,
  openLocalEngine,
  type DetectedFace,
  type LocalEngine,
  type SwapResult,
} from '../src/backends/local/index.js';

/**
 * The local engine end to end, on two public-domain portraits (see test/fixtures/README.md) and
 * images derived from them here. The model loads once for the whole file.
 */
const FIXTURES = join(import.meta.dirname, 'fixtures', 'images');
const ASTRONAUT = join(FIXTURES, 'astronaut-eileen-collins.jpg');
const HOPPER = join(FIXTURES, 'grace-hopper.jpg');

let engine: LocalEngine;
let dir: string;

/** Derived inputs, made once. */
const made = {
  twoFaces: '',
  tiny: '',
  grey: '',
  cmyk: '',
  rotated: '',
  gradient: '',
  broken: '',
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'local-engine-'));
  [engine] = await Promise.all([openLocalEngine(), makeInputs()]);
});

afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function makeInputs(): Promise<void> {
  const hopper = await sharp(HOPPER).resize({ height: 512 }).toBuffer();
  const hopperWidth = (await sharp(hopper).metadata()).width;
  made.twoFaces = join(dir, 'two-faces.png');
  await sharp({ create: { width: 512 + hopperWidth, height: 512, channels: 3, background: '#808080' } })
    .composite([
      { input: ASTRONAUT, left: 0, top: 0 },
      { input: hopper, left: 512, top: 0 },
    ])
    .png()
    .toFile(made.twoFaces);
  made.tiny = join(dir, 'tiny.png');
  await sharp(ASTRONAUT).resize(120, 120).png().toFile(made.tiny);
  made.grey = join(dir, 'grey.png');
  await sharp(ASTRONAUT).toColourspace('b-w').png().toFile(made.grey);
  made.cmyk = join(dir, 'cmyk.jpg');
  await sharp(HOPPER).toColourspace('cmyk').jpeg().toFile(made.cmyk);
  // Stored turned a quarter left, tagged "rotate 90° clockwise to view": upright once applied.
  made.rotated = join(dir, 'rotated.jpg');
  await sharp(HOPPER).rotate(-90).jpeg().withMetadata({ orientation: 6 }).toFile(made.rotated);
  made.gradient = join(dir, 'gradient.png');
  const w = 400;
  const h = 300;
  const pixels = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) pixels.set([(x * 255) / w, (y * 255) / h, 128], (y * w + x) * 3);
  }
  await sharp(pixels, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toFile(made.gradient);
  made.broken = join(dir, 'broken.jpg');
  await writeFile(made.broken, Buffer.from('this is not a JPEG, only its name says so'));
}

function out(name: string): string {
  return join(dir, `${name}.png`);
}

async function onlyFace(path: string): Promise<DetectedFace> {
  const result = await engine.detect(path);
  if (result.kind !== 'detected') throw new Error(result.message);
  expect(result.faces).toHaveLength(1);
  const face = result.faces[0];
  if (face === undefined) throw new Error('no face');
  return face;
}

function expectSwapped(result: SwapResult): asserts result is Extract<SwapResult, { kind: 'swapped' }> {
  if (result.kind === 'failed') expect.fail(`${result.reason}: ${result.message}`);
}

function expectFailure(result: SwapResult, reason: string, text: RegExp): void {
  expect(result.kind).toBe('failed');
  if (result.kind !== 'failed') return;
  expect(result.reason).toBe(reason);
  expect(result.message).toMatch(text);
  expect(result.message).not.toMatch(/\n\s+at /); // no stack trace
}

describe('detection', () => {
  it('finds exactly one face, with a full mesh, in each fixture', async () => {
    for (const [path, minSize] of [
      [ASTRONAUT, 80],
      [HOPPER, 150],
    ] as const) {
      const face = await onlyFace(path);
      expect(face.score).toBeGreaterThan(0.8);
      expect(face.landmarks).toHaveLength(478);
      expect(Math.max(face.box.width, face.box.height)).toBeGreaterThan(minSize);
    }
  });

  it('lists several faces in reading order, left to right', async () => {
    const result = await engine.detect(made.twoFaces);
    if (result.kind !== 'detected') throw new Error(result.message);
    expect(result.faces).toHaveLength(2);
    const [left, right] = result.faces;
    expect(left?.box.x).toBeLessThan(512);
    expect(right?.box.x).toBeGreaterThan(512);
  });

  it('reports an empty list, not an error, for an image without faces', async () => {
    const result = await engine.detect(made.gradient);
    expect(result.kind === 'detected' && result.faces.length).toBe(0);
  });
});

describe('swapping a face', () => {
  for (const [name, identity, target] of [
    ['Grace Hopper onto the astronaut', HOPPER, ASTRONAUT],
    ['the astronaut onto Grace Hopper', ASTRONAUT, HOPPER],
  ] as const) {
    it(`${name}: changes the face, keeps the rest and the pose`, async () => {
      const before = await onlyFace(target);
      const output = out(`swap-${name.split(' ')[0]}`);
      const result = await engine.swap({ identityPath: identity, targetPath: target, outputPath: output });
      expectSwapped(result);
      const meta = await sharp(target).metadata();
      expect([result.width, result.height]).toEqual([meta.width, meta.height]);
      expect(result.facesInTarget).toBe(1);

      const quality = await measureSwap(target, output, before.landmarks);
      // The face is another person's: on average more than 12 levels out of 255 per channel.
      expect(quality.insideMeanAbsDiff).toBeGreaterThan(12);
      // Beyond the blend margin, not one pixel changed.
      expect(quality.outsideMeanAbsDiff).toBeLessThan(0.05);
      expect(quality.outsideChangedFraction).toBeLessThan(0.001);

      // The swapped face is still a face, in the target's pose: its mesh lies on the old one.
      const after = await onlyFace(output);
      expect(landmarkError(before.landmarks, after.landmarks)).toBeLessThan(0.04);
    });
  }

  it('writes an 8-bit RGB PNG without an orientation tag', async () => {
    const output = out('format');
    expectSwapped(await engine.swap({ identityPath: ASTRONAUT, targetPath: HOPPER, outputPath: output }));
    const meta = await sharp(output).metadata();
    expect([meta.format, meta.channels, meta.depth, meta.orientation]).toEqual([
      'png',
      3,
      'uchar',
      undefined,
    ]);
  });

  it('replaces the largest face by default and the chosen one with faceIndex', async () => {
    const faces = await engine.detect(made.twoFaces);
    if (faces.kind !== 'detected') throw new Error(faces.message);
    const [left, right] = faces.faces;
    if (left === undefined || right === undefined) throw new Error('expected two faces');

    const byDefault = await engine.swap({
      identityPath: HOPPER,
      targetPath: made.twoFaces,
      outputPath: out('largest'),
    });
    expectSwapped(byDefault);
    expect(byDefault.facesInTarget).toBe(2);
    expect(byDefault.targetFace.x).toBeGreaterThan(512); // Grace Hopper's face is the larger

    const chosen = out('index-0');
    const first = await engine.swap({
      identityPath: HOPPER,
      targetPath: made.twoFaces,
      outputPath: chosen,
      faceIndex: 0,
    });
    expectSwapped(first);
    expect(first.targetFace).toEqual(left.box);
    const changed = await measureSwap(made.twoFaces, chosen, left.landmarks);
    const untouched = await measureSwap(made.twoFaces, chosen, right.landmarks, 0);
    expect(changed.insideMeanAbsDiff).toBeGreaterThan(12);
    expect(untouched.insideMeanAbsDiff).toBe(0);
  });

  it('accepts greyscale and CMYK inputs, converting them to sRGB', async () => {
    for (const [identity, target] of [
      [made.grey, HOPPER],
      [ASTRONAUT, made.grey],
      [made.cmyk, ASTRONAUT],
      [ASTRONAUT, made.cmyk],
    ] as const) {
      const output = out('colour-space');
      const result = await engine.swap({ identityPath: identity, targetPath: target, outputPath: output });
      expectSwapped(result);
      const meta = await sharp(output).metadata();
      expect([meta.space, meta.channels]).toEqual(['srgb', 3]);
    }
  });

  it('applies EXIF orientation: the output is upright and the size of the corrected image', async () => {
    const upright = await onlyFace(HOPPER);
    const rotated = await onlyFace(made.rotated);
    // The detector sees the corrected image: same face, same place as in the upright original.
    expect(landmarkError(upright.landmarks, rotated.landmarks)).toBeLessThan(0.02);

    const output = out('rotated');
    const result = await engine.swap({
      identityPath: ASTRONAUT,
      targetPath: made.rotated,
      outputPath: output,
    });
    expectSwapped(result);
    const meta = await sharp(output).metadata();
    expect([meta.width, meta.height, meta.orientation]).toEqual([512, 600, undefined]);
    const after = await onlyFace(output);
    expect(landmarkError(upright.landmarks, after.landmarks)).toBeLessThan(0.04);
  });

  it('handles a large scene: detects on a shrunk copy, maps landmarks back, touches only the face', async () => {
    // 3584 × 3584 (12.8 MP): the face is ~700 px, so its crop is worked on at reduced scale.
    const large = join(dir, 'large.jpg');
    await sharp(ASTRONAUT).resize(3584, 3584, { kernel: 'lanczos3' }).jpeg({ quality: 85 }).toFile(large);
    const small = await onlyFace(ASTRONAUT);
    const big = await onlyFace(large);
    const scaled = small.landmarks.map((p) => ({ x: p.x * 7, y: p.y * 7, z: p.z * 7 }));
    expect(landmarkError(scaled, big.landmarks)).toBeLessThan(0.02);

    const output = out('large');
    const result = await engine.swap({ identityPath: HOPPER, targetPath: large, outputPath: output });
    expectSwapped(result);
    expect([result.width, result.height]).toEqual([3584, 3584]);
    const quality = await measureSwap(large, output, big.landmarks);
    expect(quality.insideMeanAbsDiff).toBeGreaterThan(12);
    expect(quality.outsideChangedFraction).toBe(0);
  });

  it('runs queued swaps one after another on the same engine', async () => {
    const results = await Promise.all(
      [HOPPER, ASTRONAUT, HOPPER].map((target, i) =>
        engine.swap({
          identityPath: i === 1 ? HOPPER : ASTRONAUT,
          targetPath: target,
          outputPath: out(`queued-${i}`),
        }),
      ),
    );
    expect(results.map((r) => r.kind)).toEqual(['swapped', 'swapped', 'swapped']);
  });
});

describe('failures are values with a message for the user', () => {
  it('no face in the target or in the identity', async () => {
    expectFailure(
      await engine.swap({ identityPath: HOPPER, targetPath: made.gradient, outputPath: out('x') }),
      'no-face-in-target',
      /no face found in the target image gradient\.png/,
    );
    expectFailure(
      await engine.swap({ identityPath: made.gradient, targetPath: HOPPER, outputPath: out('x') }),
      'no-face-in-identity',
      /no face found in the identity image gradient\.png: use a clear, front-facing portrait/,
    );
  });

  it('a face below the minimum size', async () => {
    expectFailure(
      await engine.swap({ identityPath: HOPPER, targetPath: made.tiny, outputPath: out('x') }),
      'face-too-small',
      /the face in the target image tiny\.png is \d+ px across, below the minimum of 64 px/,
    );
  });

  it('a face index that does not exist', async () => {
    expectFailure(
      await engine.swap({
        identityPath: HOPPER,
        targetPath: made.twoFaces,
        outputPath: out('x'),
        faceIndex: 2,
      }),
      'face-index-out-of-range',
      /face index 2 does not exist .* it has 2 faces \(faces 0 to 1, counted left to right\)/,
    );
    expectFailure(
      await engine.swap({ identityPath: HOPPER, targetPath: ASTRONAUT, outputPath: out('x'), faceIndex: -1 }),
      'invalid-request',
      /face_index must be a whole number/,
    );
  });

  it('an undecodable or missing file', async () => {
    expectFailure(
      await engine.swap({ identityPath: made.broken, targetPath: HOPPER, outputPath: out('x') }),
      'unreadable-image',
      /cannot read the identity image broken\.jpg: not an image in a format we can read/,
    );
    expectFailure(
      await engine.swap({ identityPath: HOPPER, targetPath: join(dir, 'missing.jpg'), outputPath: out('x') }),
      'unreadable-image',
      /cannot read the target image missing\.jpg: no such file/,
    );
  });

  it('an image above the pixel limit, refused before decoding', async () => {
    const strict = await openLocalEngine({ maxInputPixels: 100_000 });
    try {
      expectFailure(
        await strict.swap({ identityPath: HOPPER, targetPath: ASTRONAUT, outputPath: out('x') }),
        'image-too-large',
        /the identity image grace-hopper\.jpg is 512 × 600 \(0\.3 MP\), above the limit of 0\.1 MP: downscale it first/,
      );
    } finally {
      await strict.close();
    }
  });

  it('an output that is not a PNG or cannot be written', async () => {
    expectFailure(
      await engine.swap({ identityPath: HOPPER, targetPath: ASTRONAUT, outputPath: join(dir, 'out.jpg') }),
      'invalid-request',
      /must be a \.png file/,
    );
    expectFailure(
      await engine.swap({
        identityPath: HOPPER,
        targetPath: ASTRONAUT,
        outputPath: join(dir, 'nope', 'out.png'),
      }),
      'output-not-writable',
      /the folder does not exist/,
    );
  });
});

describe('cancellation', () => {
  it('an aborted swap resolves to cancelled, leaves no file, and the engine recovers', async () => {
    // Aborted before it starts: always cancelled. Aborted while it runs: cancelled, or, when
    // the swap was quicker than the abort (a warm engine on a fast machine), a complete file.
    for (const delay of [-1, 0, 20, 150, 300]) {
      const controller = new AbortController();
      const output = out(`cancelled-${delay}`);
      if (delay < 0) controller.abort();
      const swap = engine.swap({
        identityPath: HOPPER,
        targetPath: ASTRONAUT,
        outputPath: output,
        signal: controller.signal,
      });
      if (delay >= 0) setTimeout(() => controller.abort(), delay);
      const result = await swap;
      // Any background write checks the signal before renaming; give it time to have finished.
      await new Promise((resolve) => setTimeout(resolve, 400));
      if (result.kind === 'swapped' && delay >= 0) {
        expect((await sharp(output).metadata()).width).toBeGreaterThan(0);
        continue;
      }
      expectFailure(result, 'cancelled', /was cancelled/);
      expect(existsSync(output)).toBe(false);
    }
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const after = await engine.swap({
      identityPath: HOPPER,
      targetPath: ASTRONAUT,
      outputPath: out('after-cancel'),
    });
    expectSwapped(after);
  });

  it('says so when the signal was a timeout, and an already-aborted signal does no work', async () => {
    const timedOut = engine.swap({
      identityPath: HOPPER,
      targetPath: ASTRONAUT,
      outputPath: out('timeout'),
      signal: AbortSignal.timeout(5),
    });
    expectFailure(await timedOut, 'cancelled', /timed out/);
    expectFailure(
      await engine.swap({
        identityPath: HOPPER,
        targetPath: ASTRONAUT,
        outputPath: out('x'),
        signal: AbortSignal.abort(),
      }),
      'cancelled',
      /cancelled/,
    );
  });

  it('aborting one queued swap does not disturb the others', async () => {
    const controller = new AbortController();
    const swaps = [0, 1, 2].map((i) =>
      engine.swap({
        identityPath: ASTRONAUT,
        targetPath: HOPPER,
        outputPath: out(`neighbour-${i}`),
        ...(i === 1 ? { signal: controller.signal } : {}),
      }),
    );
    controller.abort();
    expect((await Promise.all(swaps)).map((r) => r.kind)).toEqual(['swapped', 'failed', 'swapped']);
  });
});

const hasFfmpeg = ['ffmpeg', 'ffprobe'].every(
  (tool) => spawnSync(tool, ['-version'], { stdio: 'ignore' }).status === 0,
);

describe.skipIf(!hasFfmpeg)('video (ffmpeg on PATH)', () => {
  let clip = '';

  beforeAll(() => {
    // One second, 12 frames, of Grace Hopper slowly zooming, with a tone as the soundtrack.
    clip = join(dir, 'clip.mp4');
    const zoom =
      "scale=400:470,zoompan=z='1+0.004*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=12:s=320x376:fps=12";
    ffmpeg(['-loop', '1', '-i', HOPPER, '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1'])
      .concat([
        '-vf',
        zoom,
        '-map',
        '0:v',
        '-map',
        '1:a',
        '-t',
        '1',
        '-c:v',
        'libx264',
        '-pix_fmt',
        'yuv420p',
      ])
      .concat(['-c:a', 'aac', '-shortest', clip])
      .run();
  });

  it('swaps every frame, keeps size, frame count and audio', async () => {
    const output = join(dir, 'clip-swapped.mp4');
    const progress: number[] = [];
    const result = await engine.swapVideo({
      identityPath: ASTRONAUT,
      targetPath: clip,
      outputPath: output,
      onProgress: (done) => progress.push(done),
    });
    if (result.kind === 'failed') expect.fail(`${result.reason}: ${result.message}`);
    expect([result.width, result.height, result.frames, result.framesSwapped, result.hasAudio]).toEqual([
      320,
      376,
      12,
      12,
      true,
    ]);
    expect(progress.at(-1)).toBe(12);
    const streams = spawnSync(
      'ffprobe',
      ['-v', 'error', '-show_entries', 'stream=codec_type,width,height,nb_frames', '-of', 'csv=p=0', output],
      {
        encoding: 'utf8',
      },
    ).stdout;
    const lines = streams.trim().split('\n');
    expect(lines.some((line) => line.startsWith('audio'))).toBe(true);
    expect(lines).toContain('video,320,376,12');

    // The middle frame, before and after: the face changed and kept its pose.
    const before = join(dir, 'frame-before.png');
    const after = join(dir, 'frame-after.png');
    ffmpeg(['-i', clip, '-vf', 'select=eq(n\\,6)', '-frames:v', '1', before]).run();
    ffmpeg(['-i', output, '-vf', 'select=eq(n\\,6)', '-frames:v', '1', after]).run();
    const face = await onlyFace(before);
    const quality = await measureSwap(before, after, face.landmarks);
    expect(quality.insideMeanAbsDiff).toBeGreaterThan(12);
    expect(quality.outsideMeanAbsDiff).toBeLessThan(3); // re-encoded, so not bit-exact
    expect(landmarkError(face.landmarks, (await onlyFace(after)).landmarks)).toBeLessThan(0.05);
  });

  it('stops on abort and leaves no file', async () => {
    const controller = new AbortController();
    const output = join(dir, 'clip-cancelled.mp4');
    const swap = engine.swapVideo({
      identityPath: ASTRONAUT,
      targetPath: clip,
      outputPath: output,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 300);
    const result = await swap;
    expect(result.kind === 'failed' && result.reason).toBe('cancelled');
    // An abort answers at once (src/backends/local/guard.ts); stopping ffmpeg and removing the
    // partial file finish just after, once the frame in flight is done: wait for that, boundedly
    // (30 s: under CI's full parallel load the frame and the cleanup once took more than 5 s).
    const left = async () => (await readdir(dir)).filter((f) => f.startsWith('clip-cancelled'));
    for (let i = 0; i < 600 && (await left()).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await left()).toEqual([]);
  });

  it('names a video a video: one that is not a video, and one whose frames show no face', async () => {
    const notVideo = join(dir, 'notvideo.mp4');
    await writeFile(notVideo, 'not a video at all');
    const unreadable = await engine.swapVideo({
      identityPath: ASTRONAUT,
      targetPath: notVideo,
      outputPath: join(dir, 'a.mp4'),
    });
    expect(unreadable.kind === 'failed' && unreadable.message).toMatch(
      /^cannot read the target video notvideo\.mp4: .*; use a video file ffmpeg can decode/,
    );
    const blank = join(dir, 'blank.mp4');
    ffmpeg([
      '-f',
      'lavfi',
      '-i',
      'color=c=gray:s=160x120:d=0.5:r=4',
      '-c:v',
      'libx264',
      '-pix_fmt',
      'yuv420p',
      blank,
    ]).run();
    const noFace = await engine.swapVideo({
      identityPath: ASTRONAUT,
      targetPath: blank,
      outputPath: join(dir, 'b.mp4'),
    });
    expect(noFace.kind === 'failed' && noFace.message).toMatch(
      /^no face found in any frame of the target video blank\.mp4/,
    );
  });

  it('refuses an output that is not .mp4', async () => {
    const result = await engine.swapVideo({
      identityPath: ASTRONAUT,
      targetPath: clip,
      outputPath: join(dir, 'x.mov'),
    });
    expect(result.kind === 'failed' && result.reason).toBe('invalid-request');
  });
});

function ffmpeg(args: string[]): { concat: (more: string[]) => ReturnType<typeof ffmpeg>; run: () => void } {
  return {
    concat: (more) => ffmpeg([...args, ...more]),
    run: () => {
      const result = spawnSync('ffmpeg', ['-v', 'error', '-y', ...args], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`ffmpeg failed: ${result.stderr}`);
    },
  };
}
