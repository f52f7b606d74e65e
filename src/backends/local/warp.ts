import type { Raster } from './raster.js';

/** The identity face drawn in the target's frame, plus where it was drawn. */
export interface Warped {
  /** Float RGB, 0..255, same size as the target crop; zero where `coverage` is 0. */
  readonly rgb: Float32Array;
  /** 1 where some front-facing triangle covered the pixel, else 0. */
  readonly coverage: Uint8Array;
}

/**
 * Piecewise-affine warp: every mesh triangle of the target is filled with the matching triangle
 * of the identity, mapped by the affine map that takes one triangle to the other (inverse
 * mapping, bilinear sampling, so there are no holes).
 *
 * The mesh is 3-D, so a turned head folds some triangles over others in the image. Triangles
 * whose winding is opposite to the face's dominant winding face away from the camera and are
 * skipped (back-face culling); among the rest, a depth buffer on the target's z keeps the nearest,
 * so the nose of a three-quarter face hides the cheek behind it.
 */
export function warpIdentity(
  identity: Raster,
  identityPoints: Float32Array,
  targetWidth: number,
  targetHeight: number,
  targetPoints: Float32Array,
  triangles: Uint16Array,
): Warped {
  const w = targetWidth;
  const h = targetHeight;
  const rgb = new Float32Array(w * h * 3);
  const coverage = new Uint8Array(w * h);
  const depth = new Float32Array(w * h).fill(Infinity);
  const winding = dominantWinding(targetPoints, triangles);
  const tp = targetPoints;
  const ip = identityPoints;
  const src = identity.data;
  const sw = identity.width;
  const sh = identity.height;

  for (let t = 0; t < triangles.length; t += 3) {
    const a = (triangles[t] ?? 0) * 3;
    const b = (triangles[t + 1] ?? 0) * 3;
    const c = (triangles[t + 2] ?? 0) * 3;
    const ax = tp[a] ?? 0,
      ay = tp[a + 1] ?? 0,
      az = tp[a + 2] ?? 0;
    const bx = tp[b] ?? 0,
      by = tp[b + 1] ?? 0,
      bz = tp[b + 2] ?? 0;
    const cx = tp[c] ?? 0,
      cy = tp[c + 1] ?? 0,
      cz = tp[c + 2] ?? 0;
    const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    if (area * winding <= 1e-6) continue; // degenerate or facing away
    const inv = 1 / area;
    const sax = ip[a] ?? 0,
      say = ip[a + 1] ?? 0;
    const sbx = ip[b] ?? 0,
      sby = ip[b + 1] ?? 0;
    const scx = ip[c] ?? 0,
      scy = ip[c + 1] ?? 0;
    const x0 = Math.max(0, Math.floor(Math.min(ax, bx, cx)));
    const x1 = Math.min(w - 1, Math.ceil(Math.max(ax, bx, cx)));
    const y0 = Math.max(0, Math.floor(Math.min(ay, by, cy)));
    const y1 = Math.min(h - 1, Math.ceil(Math.max(ay, by, cy)));
    for (let y = y0; y <= y1; y++) {
      const py = y + 0.5;
      for (let x = x0; x <= x1; x++) {
        const px = x + 0.5;
        // Barycentric weights of the pixel centre; a small tolerance closes cracks on shared edges.
        const l1 = ((bx - px) * (cy - py) - (by - py) * (cx - px)) * inv;
        const l2 = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) * inv;
        const l3 = 1 - l1 - l2;
        if (l1 < -1e-4 || l2 < -1e-4 || l3 < -1e-4) continue;
        const i = y * w + x;
        const z = l1 * az + l2 * bz + l3 * cz;
        if (z >= (depth[i] ?? Infinity)) continue;
        depth[i] = z;
        coverage[i] = 1;
        const sx = l1 * sax + l2 * sbx + l3 * scx - 0.5;
        const sy = l1 * say + l2 * sby + l3 * scy - 0.5;
        sampleBilinear(src, sw, sh, sx, sy, rgb, i * 3);
      }
    }
  }
  return { rgb, coverage };
}

/** The sign of the summed signed area: +1 if most of the face is wound one way, else -1. */
function dominantWinding(points: Float32Array, triangles: Uint16Array): number {
  let sum = 0;
  for (let t = 0; t < triangles.length; t += 3) {
    const a = (triangles[t] ?? 0) * 3;
    const b = (triangles[t + 1] ?? 0) * 3;
    const c = (triangles[t + 2] ?? 0) * 3;
    const ax = points[a] ?? 0,
      ay = points[a + 1] ?? 0;
    sum +=
      ((points[b] ?? 0) - ax) * ((points[c + 1] ?? 0) - ay) -
      ((points[b + 1] ?? 0) - ay) * ((points[c] ?? 0) - ax);
  }
  return sum >= 0 ? 1 : -1;
}

/** Bilinear sample of packed RGB at a continuous position (pixel centres at integers), edges clamped. */
function sampleBilinear(
  src: Uint8Array,
  width: number,
  height: number,
  x: number,
  y: number,
  out: Float32Array,
  at: number,
): void {
  const cx = x < 0 ? 0 : x > width - 1 ? width - 1 : x;
  const cy = y < 0 ? 0 : y > height - 1 ? height - 1 : y;
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = x0 + 1 < width ? x0 + 1 : x0;
  const y1 = y0 + 1 < height ? y0 + 1 : y0;
  const fx = cx - x0;
  const fy = cy - y0;
  const i00 = (y0 * width + x0) * 3;
  const i10 = (y0 * width + x1) * 3;
  const i01 = (y1 * width + x0) * 3;
  const i11 = (y1 * width + x1) * 3;
  for (let k = 0; k < 3; k++) {
    const top = (src[i00 + k] ?? 0) * (1 - fx) + (src[i10 + k] ?? 0) * fx;
    const bottom = (src[i01 + k] ?? 0) * (1 - fx) + (src[i11 + k] ?? 0) * fx;
    out[at + k] = top * (1 - fy) + bottom * fy;
  }
}
