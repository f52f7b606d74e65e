import { oklabToRgb, rgbToOklab, transferStats } from './colour.js';
import { convexHull, faceSize, signedDistanceToConvex, SURFACE_POINTS } from './geometry.js';
import { pyramidBlend } from './pyramid-blend.js';
import { boxBlur, type Raster } from './raster.js';
import { warpIdentity } from './warp.js';

/** Everything {@link composeFace} needs: two crops and their landmarks in crop pixels. */
export interface ComposeInput {
  /** The region of the scene around the face to replace. */
  readonly target: Raster;
  readonly targetPoints: Float32Array;
  /** The region of the identity portrait around its face, roughly at the target face's scale. */
  readonly identity: Raster;
  readonly identityPoints: Float32Array;
  /** Mesh triangles as index triples into the points. */
  readonly triangles: Uint16Array;
}

/**
 * The result, the size of the target crop: RGBA where alpha is 255 on every pixel that changed and
 * 0 elsewhere, so that laying it over the scene with plain `over` changes nothing outside the
 * blend. (The blend itself is already feathered; alpha only marks its extent.)
 */
export interface Composed {
  readonly rgba: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Tuning, chosen by looking at results on the fixtures. Lengths are fractions of the face size
 * (the longer side of the target's landmark box).
 */
export interface ComposeTuning {
  /** How far the mask's edge is pulled inside the landmark hull. */
  readonly erode: number;
  /** Width of the mask's soft edge. */
  readonly feather: number;
  /**
   * How much of the forehead above the brows the mask keeps (1 = up to the mesh's top edge). The
   * mesh reaches the hairline, and an identity's fringe warped onto a bare forehead (or under a
   * hat) reads as a dark smear; the scene's own upper forehead is the safer skin to show.
   */
  readonly foreheadKeep: number;
  /** Pyramid depth: the coarsest band is about this fraction of the face size. */
  readonly coarsestBand: number;
  /** The most the colour transfer may scale the spread of lightness (and 1/this the least). */
  readonly lightnessSpreadLimit: number;
  /** The same for the two colour axes. */
  readonly colourSpreadLimit: number;
  /** How much of the target's broad shading to lay over the identity's (0 none, 1 all). */
  readonly shading: number;
  /** The scale of "broad": blur radius of the shading, as a fraction of the face size. */
  readonly shadingRadius: number;
}

export const DEFAULT_TUNING: ComposeTuning = {
  erode: 0.03,
  feather: 0.1,
  foreheadKeep: 0.6,
  coarsestBand: 1 / 12,
  lightnessSpreadLimit: 1.25,
  colourSpreadLimit: 2,
  shading: 1,
  shadingRadius: 0.15,
};

/**
 * The classical face swap on two crops: piecewise-affine warp of the identity onto the target
 * mesh, robust Reinhard colour transfer in Oklab over the face, the target's broad shading laid
 * over it, and a multi-band blend under a feathered mask built from the convex hull of the
 * target's landmarks. Pure and synchronous; runs in the engine's worker. The steps are described
 * in docs/local-engine.md.
 */
export function composeFace(input: ComposeInput, tuning: ComposeTuning = DEFAULT_TUNING): Composed {
  const { target, targetPoints } = input;
  const { width, height } = target;
  const pixels = width * height;
  const size = faceSize(targetPoints);

  const warped = warpIdentity(
    input.identity,
    input.identityPoints,
    width,
    height,
    targetPoints,
    input.triangles,
  );
  const mask = faceMask(targetPoints, warped.coverage, width, height, size, tuning);

  const targetRgb = Float32Array.from(target.data);
  // Outside the warped triangles the source is the scene itself, so the blend cannot drag in
  // black from undefined pixels at any band.
  const source = warped.rgb;
  for (let p = 0; p < pixels; p++) {
    if (warped.coverage[p] === 0) {
      source[p * 3] = targetRgb[p * 3] ?? 0;
      source[p * 3 + 1] = targetRgb[p * 3 + 1] ?? 0;
      source[p * 3 + 2] = targetRgb[p * 3 + 2] ?? 0;
    }
  }

  const sourceLab = rgbToOklab(source);
  const targetLab = rgbToOklab(targetRgb);
  const core = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) core[p] = (mask[p] ?? 0) > 0.5 ? 1 : 0;
  transferStats(sourceLab, targetLab, core, tuning.lightnessSpreadLimit, tuning.colourSpreadLimit);
  if (tuning.shading > 0) transferShading(sourceLab, targetLab, mask, width, height, size, tuning);
  const corrected = oklabToRgb(sourceLab);

  const levels = Math.max(1, Math.round(Math.log2(Math.max(2, size * tuning.coarsestBand))));
  const blended = pyramidBlend(corrected, targetRgb, mask, width, height, levels);

  const rgba = new Uint8Array(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    let changed = false;
    for (let k = 0; k < 3; k++) {
      const v = Math.round(blended[p * 3 + k] ?? 0);
      const c = v < 0 ? 0 : v > 255 ? 255 : v;
      rgba[p * 4 + k] = c;
      if (c !== target.data[p * 3 + k]) changed = true;
    }
    rgba[p * 4 + 3] = changed ? 255 : 0;
  }
  return { rgba, width, height };
}

/**
 * Lays the target's broad lighting over the identity, in place, on Oklab lightness: adds the
 * difference of the two faces' lightness blurred to a fraction of the face size. The warp has
 * already put eyes on eyes and mouth on mouth, so at that scale the features mostly cancel and
 * what remains is light and shadow: a scene lit from the side keeps its side light on the new
 * face. Blurs are normalised by the mask so the background never leaks in.
 */
function transferShading(
  source: Float32Array,
  target: Float32Array,
  mask: Float32Array,
  width: number,
  height: number,
  size: number,
  tuning: ComposeTuning,
): void {
  const pixels = width * height;
  const weight = new Float32Array(pixels);
  const s = new Float32Array(pixels);
  const t = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) {
    const m = (mask[p] ?? 0) > 0.05 ? 1 : 0;
    weight[p] = m;
    s[p] = m * (source[p * 3] ?? 0);
    t[p] = m * (target[p * 3] ?? 0);
  }
  const radius = Math.max(1, tuning.shadingRadius * size);
  const w = boxBlur(weight, width, height, radius);
  const bs = boxBlur(s, width, height, radius);
  const bt = boxBlur(t, width, height, radius);
  for (let p = 0; p < pixels; p++) {
    const norm = w[p] ?? 0;
    if (norm < 1e-3 || (weight[p] ?? 0) === 0) continue;
    source[p * 3] = (source[p * 3] ?? 0) + (tuning.shading * ((bt[p] ?? 0) - (bs[p] ?? 0))) / norm;
  }
}

/**
 * The blend mask: 1 well inside the convex hull of the target's landmarks, falling smoothly to 0
 * a little inside the hull's edge, and also to 0 near any pixel the warp did not cover (parts of
 * a turned face hidden from the camera).
 */
export function faceMask(
  points: Float32Array,
  coverage: Uint8Array,
  width: number,
  height: number,
  size: number,
  tuning: ComposeTuning,
): Float32Array {
  const distance = signedDistanceToConvex(
    convexHull(lowerForehead(points, tuning.foreheadKeep)),
    width,
    height,
  );
  const erode = tuning.erode * size;
  const feather = Math.max(1, tuning.feather * size);
  const covered = new Float32Array(coverage.length);
  for (let p = 0; p < coverage.length; p++) covered[p] = coverage[p] ?? 0;
  const coverageSoft = boxBlur(covered, width, height, feather / 4);
  const mask = new Float32Array(width * height);
  for (let p = 0; p < mask.length; p++) {
    const hull = smoothstep(((distance[p] ?? 0) - erode) / feather);
    const cov = Math.min(1, Math.max(0, ((coverageSoft[p] ?? 0) - 0.5) * 2)) * (coverage[p] ?? 0);
    mask[p] = hull * cov;
  }
  return mask;
}

/** Mesh indices: 10 top of the forehead, 152 chin, 9 between the brows. */
const FOREHEAD_TOP = 10;
const CHIN = 152;
const BROWS = 9;

/**
 * A copy of the surface points with everything above the brows pulled down towards them, along
 * the face's own up direction (so a tilted head is handled), keeping `keep` of that height.
 */
function lowerForehead(points: Float32Array, keep: number): Float32Array {
  const out = points.slice(0, SURFACE_POINTS * 3);
  const get = (i: number, k: number): number => points[i * 3 + k] ?? 0;
  let ux = get(FOREHEAD_TOP, 0) - get(CHIN, 0);
  let uy = get(FOREHEAD_TOP, 1) - get(CHIN, 1);
  const length = Math.hypot(ux, uy);
  if (length === 0) return out;
  ux /= length;
  uy /= length;
  for (let i = 0; i < SURFACE_POINTS; i++) {
    const t = (get(i, 0) - get(BROWS, 0)) * ux + (get(i, 1) - get(BROWS, 1)) * uy;
    if (t <= 0) continue;
    out[i * 3] = get(i, 0) - (1 - keep) * t * ux;
    out[i * 3 + 1] = get(i, 1) - (1 - keep) * t * uy;
  }
  return out;
}

function smoothstep(t: number): number {
  const x = t < 0 ? 0 : t > 1 ? 1 : t;
  return x * x * (3 - 2 * x);
}
