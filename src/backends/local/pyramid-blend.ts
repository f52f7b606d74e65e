/**
 * Multi-band (Laplacian pyramid) blending, after Burt and Adelson: each frequency band is blended
 * with a mask blurred to that band's scale. Fine detail (pores, hair strands) switches over in a
 * narrow seam while broad shading and colour switch over in a wide one, so the seam neither shows
 * as a soft halo nor as a hard edge. Works on packed float RGB.
 */

interface Level {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Blends `source` over `target` (same size, packed float RGB) with `mask` (0..1, one value per
 * pixel) across `levels` bands. Returns a new packed float RGB image.
 */
export function pyramidBlend(
  source: Float32Array,
  target: Float32Array,
  mask: Float32Array,
  width: number,
  height: number,
  levels: number,
): Float32Array {
  const n = Math.max(1, Math.min(levels, Math.floor(Math.log2(Math.min(width, height))) - 2));
  const gs = gaussianPyramid({ data: source, width, height }, 3, n);
  const gt = gaussianPyramid({ data: target, width, height }, 3, n);
  const gm = gaussianPyramid({ data: mask, width, height }, 1, n);
  // Start from the coarsest Gaussian level, then add each blended Laplacian band on the way up.
  let acc = blendLevel(at(gs, n - 1), at(gt, n - 1), at(gm, n - 1));
  for (let i = n - 2; i >= 0; i--) {
    const s = at(gs, i);
    const t = at(gt, i);
    const m = at(gm, i);
    const up = upsample(acc, s.width, s.height, 3);
    const upS = upsample(at(gs, i + 1), s.width, s.height, 3);
    const upT = upsample(at(gt, i + 1), s.width, s.height, 3);
    const out = new Float32Array(s.data.length);
    for (let p = 0; p < m.data.length; p++) {
      const a = m.data[p] ?? 0;
      for (let k = 0; k < 3; k++) {
        const j = p * 3 + k;
        const ls = (s.data[j] ?? 0) - (upS.data[j] ?? 0);
        const lt = (t.data[j] ?? 0) - (upT.data[j] ?? 0);
        out[j] = (up.data[j] ?? 0) + a * ls + (1 - a) * lt;
      }
    }
    acc = { data: out, width: s.width, height: s.height };
  }
  return acc.data;
}

function at(pyramid: Level[], i: number): Level {
  const level = pyramid[i];
  if (level === undefined) throw new Error(`pyramid level ${i} missing`);
  return level;
}

function blendLevel(s: Level, t: Level, m: Level): Level {
  const out = new Float32Array(s.data.length);
  for (let p = 0; p < m.data.length; p++) {
    const a = m.data[p] ?? 0;
    for (let k = 0; k < 3; k++)
      out[p * 3 + k] = a * (s.data[p * 3 + k] ?? 0) + (1 - a) * (t.data[p * 3 + k] ?? 0);
  }
  return { data: out, width: s.width, height: s.height };
}

function gaussianPyramid(base: Level, channels: number, levels: number): Level[] {
  const out = [base];
  for (let i = 1; i < levels; i++) out.push(downsample(at(out, i - 1), channels));
  return out;
}

const KERNEL = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];

/** Blur with the 5-tap binomial kernel, then keep every other pixel (sizes round up). */
function downsample(src: Level, channels: number): Level {
  const { width, height, data } = src;
  const w2 = Math.ceil(width / 2);
  const h2 = Math.ceil(height / 2);
  // Horizontal pass at full height, only on the kept columns.
  const tmp = new Float32Array(w2 * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < w2; x++) {
      for (let k = 0; k < channels; k++) {
        let sum = 0;
        for (let d = -2; d <= 2; d++) {
          const sx = Math.min(width - 1, Math.max(0, 2 * x + d));
          sum += (KERNEL[d + 2] ?? 0) * (data[(y * width + sx) * channels + k] ?? 0);
        }
        tmp[(y * w2 + x) * channels + k] = sum;
      }
    }
  }
  const out = new Float32Array(w2 * h2 * channels);
  for (let y = 0; y < h2; y++) {
    for (let x = 0; x < w2; x++) {
      for (let k = 0; k < channels; k++) {
        let sum = 0;
        for (let d = -2; d <= 2; d++) {
          const sy = Math.min(height - 1, Math.max(0, 2 * y + d));
          sum += (KERNEL[d + 2] ?? 0) * (tmp[(sy * w2 + x) * channels + k] ?? 0);
        }
        out[(y * w2 + x) * channels + k] = sum;
      }
    }
  }
  return { data: out, width: w2, height: h2 };
}

/** Bilinear upsampling to `width` × `height`, the inverse of {@link downsample}'s grid. */
function upsample(src: Level, width: number, height: number, channels: number): Level {
  const out = new Float32Array(width * height * channels);
  const sw = src.width;
  const sh = src.height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(sh - 1, Math.max(0, y / 2));
    const y0 = Math.floor(fy);
    const y1 = Math.min(sh - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(sw - 1, Math.max(0, x / 2));
      const x0 = Math.floor(fx);
      const x1 = Math.min(sw - 1, x0 + 1);
      const wx = fx - x0;
      for (let k = 0; k < channels; k++) {
        const a = src.data[(y0 * sw + x0) * channels + k] ?? 0;
        const b = src.data[(y0 * sw + x1) * channels + k] ?? 0;
        const c = src.data[(y1 * sw + x0) * channels + k] ?? 0;
        const d = src.data[(y1 * sw + x1) * channels + k] ?? 0;
        out[(y * width + x) * channels + k] =
          (a * (1 - wx) + b * wx) * (1 - wy) + (c * (1 - wx) + d * wx) * wy;
      }
    }
  }
  return { data: out, width, height };
}
