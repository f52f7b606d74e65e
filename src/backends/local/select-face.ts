import type { RawFace } from './detector.js';
import { boundsOf, faceSize, type Rect } from './geometry.js';

/** A face, with landmarks in pixels of the full-size EXIF-corrected image. */
export interface FoundFace {
  readonly score: number;
  readonly points: Float32Array;
  readonly box: Rect;
  readonly size: number;
}

/**
 * Maps the detector's faces from the shrunk copy it saw back to full-size pixels (in place) and
 * sorts them in reading order, by left edge then top edge: the order `faceIndex` counts in.
 */
export function toFoundFaces(faces: readonly RawFace[], scale: number): FoundFace[] {
  const found = faces.map((face): FoundFace => {
    const points = face.points;
    for (let i = 0; i < points.length; i++) points[i] = (points[i] ?? 0) / scale;
    return { score: face.score, points, box: boundsOf(points), size: faceSize(points) };
  });
  return found.sort((a, b) => a.box.x - b.box.x || a.box.y - b.box.y);
}

/** Index of the face with the largest landmark box area (0 for an empty list). */
export function largestFace(faces: readonly FoundFace[]): number {
  let best = 0;
  faces.forEach((face, i) => {
    const area = face.box.width * face.box.height;
    const bestBox = faces[best]?.box;
    if (bestBox !== undefined && area > bestBox.width * bestBox.height) best = i;
  });
  return best;
}
