import { boundsOf, faceSize, type Rect } from './geometry.js';

/**
 * Which rectangle of each image the pixel work needs, and at what resolution. Pure.
 *
 * Only a crop around each face is ever decoded at full resolution, so a 50-megapixel scene costs
 * little more than a 1-megapixel one, and the identity is brought to about the target face's
 * scale by sharp's Lanczos filter before the warp, which then never has to shrink (and alias).
 */
export interface CropPlan {
  /** The rectangle to decode, in pixels of the EXIF-corrected image; integer, inside the image. */
  readonly region: Rect;
  /** The size to decode it at. */
  readonly outWidth: number;
  readonly outHeight: number;
  /** The face's landmarks in the decoded crop's pixels. */
  readonly points: Float32Array;
}

/** Margin around the target face: room for the blend to fade out. Fraction of the face size. */
const TARGET_MARGIN = 0.3;
/** Margin around the identity face: enough that bilinear sampling at the hull never clamps. */
const IDENTITY_MARGIN = 0.1;
/**
 * The largest crop side the pixel code works on. A bigger target face is processed at reduced
 * resolution and its patch scaled back up; faces that big are rare and rarely sharp at 1:1.
 */
export const MAX_WORK_SIDE = 1024;
/** Identity detail beyond the target face's own resolution is lost in the warp anyway. */
const IDENTITY_OVERSAMPLE = 1.25;

export function planTargetCrop(
  points: Float32Array,
  imageWidth: number,
  imageHeight: number,
  maxSide = MAX_WORK_SIDE,
): CropPlan {
  const region = expand(points, TARGET_MARGIN, imageWidth, imageHeight);
  const scale = Math.min(1, maxSide / Math.max(region.width, region.height));
  return withScale(points, region, scale);
}

/**
 * The identity crop, scaled so that its face is about `targetFaceSize` px (never enlarged: a
 * small identity face stays small and the warp magnifies it smoothly).
 */
export function planIdentityCrop(
  points: Float32Array,
  imageWidth: number,
  imageHeight: number,
  targetFaceSize: number,
): CropPlan {
  const region = expand(points, IDENTITY_MARGIN, imageWidth, imageHeight);
  const scale = Math.min(1, (IDENTITY_OVERSAMPLE * targetFaceSize) / Math.max(1, faceSize(points)));
  return withScale(points, region, scale);
}

function expand(points: Float32Array, margin: number, imageWidth: number, imageHeight: number): Rect {
  const box = boundsOf(points);
  const pad = margin * Math.max(box.width, box.height);
  const x0 = Math.max(0, Math.floor(box.x - pad));
  const y0 = Math.max(0, Math.floor(box.y - pad));
  const x1 = Math.min(imageWidth, Math.ceil(box.x + box.width + pad));
  const y1 = Math.min(imageHeight, Math.ceil(box.y + box.height + pad));
  return { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0) };
}

function withScale(points: Float32Array, region: Rect, scale: number): CropPlan {
  const outWidth = Math.max(1, Math.round(region.width * scale));
  const outHeight = Math.max(1, Math.round(region.height * scale));
  const sx = outWidth / region.width;
  const sy = outHeight / region.height;
  const local = new Float32Array(points.length);
  for (let i = 0; i < points.length; i += 3) {
    local[i] = ((points[i] ?? 0) - region.x) * sx;
    local[i + 1] = ((points[i + 1] ?? 0) - region.y) * sy;
    local[i + 2] = (points[i + 2] ?? 0) * sx;
  }
  return { region, outWidth, outHeight, points: local };
}
