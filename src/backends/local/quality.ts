import { DEFAULT_MAX_INPUT_PIXELS } from './limits.js';
import { boundsOf, convexHull, signedDistanceToConvex, SURFACE_POINTS } from './geometry.js';
import { decodeFull } from './image-io.js';
import type { Point3 } from './types.js';

/**
 * Numbers that say whether a swap did its job, for the tests, the benchmark and the docs script:
 * the face changed, the rest of the picture did not, and the head kept its pose.
 */
export interface SwapQuality {
  /** Mean absolute difference per channel (0..255) inside the target face's landmark hull. */
  readonly insideMeanAbsDiff: number;
  /** The same, over pixels farther than `margin` outside the hull. */
  readonly outsideMeanAbsDiff: number;
  /** Fraction of those outside pixels that changed at all. */
  readonly outsideChangedFraction: number;
}

/**
 * Compares the target and the swapped result around the target face's landmarks. `margin` is a
 * fraction of the face size (longer side of the landmark box): the blend region the engine may
 * touch reaches about 0.3 of it beyond the hull.
 */
export async function measureSwap(
  targetPath: string,
  outputPath: string,
  targetLandmarks: readonly Point3[],
  margin = 0.35,
): Promise<SwapQuality> {
  const [before, after] = await Promise.all([
    decodeFull(targetPath, DEFAULT_MAX_INPUT_PIXELS),
    decodeFull(outputPath, DEFAULT_MAX_INPUT_PIXELS),
  ]);
  if (before.width !== after.width || before.height !== after.height) {
    throw new Error(`sizes differ: ${before.width}×${before.height} vs ${after.width}×${after.height}`);
  }
  const points = packPoints(targetLandmarks);
  const box = boundsOf(points);
  const limit = -margin * Math.max(box.width, box.height);
  // Distances are only needed near the face: everything beyond the box below is outside anyway.
  const pad = Math.ceil(-limit) + 2;
  const x0 = Math.max(0, Math.floor(box.x) - pad);
  const y0 = Math.max(0, Math.floor(box.y) - pad);
  const x1 = Math.min(before.width, Math.ceil(box.x + box.width) + pad);
  const y1 = Math.min(before.height, Math.ceil(box.y + box.height) + pad);
  const hull = convexHull(points);
  for (let i = 0; i < hull.length; i += 2) {
    hull[i] = (hull[i] ?? 0) - x0;
    hull[i + 1] = (hull[i + 1] ?? 0) - y0;
  }
  const distance = signedDistanceToConvex(hull, x1 - x0, y1 - y0);
  let inSum = 0;
  let inCount = 0;
  let outSum = 0;
  let outCount = 0;
  let outChanged = 0;
  for (let y = 0; y < before.height; y++) {
    for (let x = 0; x < before.width; x++) {
      const inBox = x >= x0 && x < x1 && y >= y0 && y < y1;
      const d = inBox ? (distance[(y - y0) * (x1 - x0) + (x - x0)] ?? 0) : -Infinity;
      if (d <= 0 && d >= limit) continue;
      const p = (y * before.width + x) * 3;
      const diff =
        (Math.abs((before.data[p] ?? 0) - (after.data[p] ?? 0)) +
          Math.abs((before.data[p + 1] ?? 0) - (after.data[p + 1] ?? 0)) +
          Math.abs((before.data[p + 2] ?? 0) - (after.data[p + 2] ?? 0))) /
        3;
      if (d > 0) {
        inSum += diff;
        inCount++;
      } else {
        outSum += diff;
        outCount++;
        if (diff > 0) outChanged++;
      }
    }
  }
  return {
    insideMeanAbsDiff: inCount > 0 ? inSum / inCount : 0,
    outsideMeanAbsDiff: outCount > 0 ? outSum / outCount : 0,
    outsideChangedFraction: outCount > 0 ? outChanged / outCount : 0,
  };
}

/**
 * Mean distance between corresponding surface landmarks of two detections of the same face,
 * divided by the face size: 0 is the same pose and shape, 0.05 is a few pixels on a 100 px face.
 */
export function landmarkError(expected: readonly Point3[], actual: readonly Point3[]): number {
  const box = boundsOf(packPoints(expected));
  let sum = 0;
  for (let i = 0; i < SURFACE_POINTS; i++) {
    const e = expected[i];
    const a = actual[i];
    if (e === undefined || a === undefined) return Infinity;
    sum += Math.hypot(e.x - a.x, e.y - a.y);
  }
  return sum / SURFACE_POINTS / Math.max(1, box.width, box.height);
}

function packPoints(landmarks: readonly Point3[]): Float32Array {
  const out = new Float32Array(landmarks.length * 3);
  landmarks.forEach((p, i) => {
    out[i * 3] = p.x;
    out[i * 3 + 1] = p.y;
    out[i * 3 + 2] = p.z;
  });
  return out;
}
