#!/usr/bin/env node
// Draws docs/images/local-engine-side-by-side.png with the current engine: for each pair of
// fixtures, identity | target | result, the target and result as close-ups of the face so that
// the seams can be judged (the whole scene outside that square is untouched, as the figures show).
// Prints the quality figures of each swap. Needs a build first:
//   npx tsc -p tsconfig.build.json && node scripts/local-engine-side-by-side.mjs [output.png]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { landmarkError, measureSwap, openLocalEngine } from '../dist/backends/local/index.js';

const root = new URL('..', import.meta.url).pathname;
const fixtures = join(root, 'test', 'fixtures', 'images');
const astronaut = join(fixtures, 'astronaut-eileen-collins.jpg');
const hopper = join(fixtures, 'grace-hopper.jpg');
const output = process.argv[2] ?? join(root, 'docs', 'images', 'local-engine-side-by-side.png');
const ROW = 180;
const GAP = 6;

const engine = await openLocalEngine();
const dir = await mkdtemp(join(tmpdir(), 'side-by-side-'));
try {
  const rows = [];
  for (const [identity, target, name] of [
    [hopper, astronaut, 'hopper-onto-astronaut'],
    [astronaut, hopper, 'astronaut-onto-hopper'],
  ]) {
    const before = await engine.detect(target);
    if (before.kind !== 'detected' || before.faces.length === 0) throw new Error(`no face in ${target}`);
    const face = before.faces[0];
    const result = join(dir, `${name}.png`);
    const swap = await engine.swap({ identityPath: identity, targetPath: target, outputPath: result });
    if (swap.kind !== 'swapped') throw new Error(swap.message);
    const quality = await measureSwap(target, result, face.landmarks);
    const after = await engine.detect(result);
    const error =
      after.kind === 'detected' && after.faces[0]
        ? landmarkError(face.landmarks, after.faces[0].landmarks)
        : NaN;
    console.log(
      `${name}: ${Math.round(swap.millis)} ms, inside-face mean abs diff ${quality.insideMeanAbsDiff.toFixed(1)}, ` +
        `outside ${quality.outsideMeanAbsDiff.toFixed(3)} (${(quality.outsideChangedFraction * 100).toFixed(2)}% changed), ` +
        `landmark error ${(error * 100).toFixed(2)}% of face size`,
    );
    // A square close-up around the face's landmark box, 1.6 times its size.
    const side = Math.round(1.6 * Math.max(face.box.width, face.box.height));
    const meta = await sharp(target).metadata();
    const left = Math.max(
      0,
      Math.min(meta.width - side, Math.round(face.box.x + face.box.width / 2 - side / 2)),
    );
    const top = Math.max(
      0,
      Math.min(meta.height - side, Math.round(face.box.y + face.box.height / 2 - side / 2)),
    );
    const crop = (path) => sharp(path).rotate().extract({ left, top, width: side, height: side });
    rows.push([sharp(identity).rotate(), crop(target), crop(result)]);
  }
  const tiles = [];
  let width = 0;
  for (const [r, row] of rows.entries()) {
    let x = 0;
    for (const image of row) {
      const buffer = await image.resize({ height: ROW }).png().toBuffer();
      const { width: w } = await sharp(buffer).metadata();
      tiles.push({ input: buffer, left: x, top: r * (ROW + GAP) });
      x += w + GAP;
    }
    width = Math.max(width, x - GAP);
  }
  const height = rows.length * (ROW + GAP) - GAP;
  await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(tiles)
    .png({ compressionLevel: 9, adaptiveFiltering: true })
    .toFile(output);
  console.log(`wrote ${output}`);
} finally {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}
