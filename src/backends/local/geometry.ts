/**
 * Plane geometry on packed point arrays (x, y, z triples, as the detector returns them). Pure.
 */

/** Number of face-mesh points that carry the face surface; the 10 iris points after them do not. */
export const SURFACE_POINTS = 468;

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Bounding box of the first `count` points. */
export function boundsOf(points: Float32Array, count = SURFACE_POINTS): Rect {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < count; i++) {
    const x = points[i * 3] ?? 0;
    const y = points[i * 3 + 1] ?? 0;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return { x: minX, y: minY, width: maxX - minX, height: maxY - minY };
}

/** The size of a face: the longer side of its landmark box, in pixels. */
export function faceSize(points: Float32Array): number {
  const box = boundsOf(points);
  return Math.max(box.width, box.height);
}

/**
 * Convex hull (Andrew's monotone chain) of the first `count` points, counter-clockwise in image
 * coordinates with y down, as a flat x, y array.
 */
export function convexHull(points: Float32Array, count = SURFACE_POINTS): Float64Array {
  const order = Array.from({ length: count }, (_, i) => i).sort(
    (a, b) =>
      (points[a * 3] ?? 0) - (points[b * 3] ?? 0) || (points[a * 3 + 1] ?? 0) - (points[b * 3 + 1] ?? 0),
  );
  const px = (i: number): number => points[i * 3] ?? 0;
  const py = (i: number): number => points[i * 3 + 1] ?? 0;
  const cross = (o: number, a: number, b: number): number =>
    (px(a) - px(o)) * (py(b) - py(o)) - (py(a) - py(o)) * (px(b) - px(o));
  const lower: number[] = [];
  for (const i of order) {
    while (lower.length >= 2 && cross(lower.at(-2) ?? 0, lower.at(-1) ?? 0, i) <= 0) lower.pop();
    lower.push(i);
  }
  const upper: number[] = [];
  for (const i of order.reverse()) {
    while (upper.length >= 2 && cross(upper.at(-2) ?? 0, upper.at(-1) ?? 0, i) <= 0) upper.pop();
    upper.push(i);
  }
  const hull = [...lower.slice(0, -1), ...upper.slice(0, -1)];
  const out = new Float64Array(hull.length * 2);
  hull.forEach((i, k) => {
    out[k * 2] = px(i);
    out[k * 2 + 1] = py(i);
  });
  return out;
}

/**
 * Signed distance from every pixel centre of a `width` × `height` grid to the boundary of a convex
 * polygon: positive inside, negative outside. Exact, which gives a smoother feather than eroding
 * and blurring a rasterised mask. Inside a convex polygon the distance to the boundary is the
 * smallest distance to the edges' lines, a dot product per edge; only outside pixels need the
 * distance to the edge segments, and callers that only care about the inside (the blend mask)
 * can skip that with `exactOutside: false`, getting -Infinity there.
 */
export function signedDistanceToConvex(
  polygon: Float64Array,
  width: number,
  height: number,
  exactOutside = true,
): Float32Array {
  const n = polygon.length / 2;
  const out = new Float32Array(width * height);
  const ax = new Float64Array(n);
  const ay = new Float64Array(n);
  const dx = new Float64Array(n);
  const dy = new Float64Array(n);
  // Inward unit normals: the polygon is counter-clockwise in these coordinates (see convexHull).
  const nx = new Float64Array(n);
  const ny = new Float64Array(n);
  const inv = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    ax[i] = polygon[i * 2] ?? 0;
    ay[i] = polygon[i * 2 + 1] ?? 0;
    const ex = (polygon[j * 2] ?? 0) - (ax[i] ?? 0);
    const ey = (polygon[j * 2 + 1] ?? 0) - (ay[i] ?? 0);
    const length = Math.hypot(ex, ey);
    dx[i] = ex;
    dy[i] = ey;
    nx[i] = length > 0 ? -ey / length : 0;
    ny[i] = length > 0 ? ex / length : 0;
    inv[i] = length > 0 ? 1 / (length * length) : 0;
  }
  for (let y = 0; y < height; y++) {
    const cy = y + 0.5;
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5;
      let inside = Infinity;
      for (let i = 0; i < n; i++) {
        const v = (cx - ax[i]!) * nx[i]! + (cy - ay[i]!) * ny[i]!;
        if (v < inside) inside = v;
      }
      if (inside >= 0 || !exactOutside) {
        out[y * width + x] = inside >= 0 ? inside : -Infinity;
        continue;
      }
      let best = Infinity;
      for (let i = 0; i < n; i++) {
        const qx = cx - ax[i]!;
        const qy = cy - ay[i]!;
        let t = (qx * dx[i]! + qy * dy[i]!) * inv[i]!;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const ex = qx - t * dx[i]!;
        const ey = qy - t * dy[i]!;
        const d2 = ex * ex + ey * ey;
        if (d2 < best) best = d2;
      }
      out[y * width + x] = -Math.sqrt(best);
    }
  }
  return out;
}
