/** Packed 8-bit RGB pixels, row-major, no padding: the one image shape the pixel code works on. */
export interface Raster {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Separable box blur of a single-channel float image, repeated `passes` times. Three passes of
 * radius r approximate a Gaussian of sigma √(r(r+1)) ≈ r, which is all masks and shading need.
 * Edges are clamped. Returns a new array.
 */
export function boxBlur(
  src: Float32Array,
  width: number,
  height: number,
  radius: number,
  passes = 3,
): Float32Array {
  const r = Math.max(0, Math.round(radius));
  if (r === 0) return src.slice();
  const a = src.slice();
  const b = new Float32Array(src.length);
  for (let p = 0; p < passes; p++) {
    blurLine(a, b, width, height, r, 1, width); // rows
    blurLine(b, a, height, width, r, width, 1); // columns
  }
  return a;
}

/**
 * One box pass along lines: `lines` lines of `length` samples, consecutive samples `step` apart,
 * consecutive lines `lineStep` apart. Running sum, so the cost does not depend on the radius.
 */
function blurLine(
  src: Float32Array,
  dst: Float32Array,
  length: number,
  lines: number,
  r: number,
  step: number,
  lineStep: number,
): void {
  const norm = 1 / (2 * r + 1);
  const at = (base: number, i: number): number =>
    src[base + (i < 0 ? 0 : i >= length ? length - 1 : i) * step] ?? 0;
  for (let line = 0; line < lines; line++) {
    const base = line * lineStep;
    let sum = 0;
    for (let i = -r; i <= r; i++) sum += at(base, i);
    for (let i = 0; i < length; i++) {
      dst[base + i * step] = sum * norm;
      sum += at(base, i + r + 1) - at(base, i - r);
    }
  }
}

/** Shrinks packed RGB by an integer factor, averaging each factor × factor block (edges dropped). */
export function shrink(image: Raster, factor: number): Raster {
  if (factor <= 1) return image;
  const width = Math.max(1, Math.floor(image.width / factor));
  const height = Math.max(1, Math.floor(image.height / factor));
  const data = new Uint8Array(width * height * 3);
  const norm = 1 / (factor * factor);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < 3; k++) {
        let sum = 0;
        for (let dy = 0; dy < factor; dy++) {
          const row = ((y * factor + dy) * image.width + x * factor) * 3 + k;
          for (let dx = 0; dx < factor; dx++) sum += image.data[row + dx * 3] ?? 0;
        }
        data[(y * width + x) * 3 + k] = Math.round(sum * norm);
      }
    }
  }
  return { data, width, height };
}

/** Copies a rectangle out of packed RGB. The rectangle must lie inside the image. */
export function cropRaster(image: Raster, x: number, y: number, width: number, height: number): Raster {
  const data = new Uint8Array(width * height * 3);
  for (let row = 0; row < height; row++) {
    const from = ((y + row) * image.width + x) * 3;
    data.set(image.data.subarray(from, from + width * 3), row * width * 3);
  }
  return { data, width, height };
}

/** Lays RGBA over packed RGB in place at (x, y), where alpha is not zero (alpha is 0 or 255 here). */
export function pasteRgba(
  image: Raster,
  rgba: Uint8Array,
  x: number,
  y: number,
  width: number,
  height: number,
): void {
  const out = image.data;
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const s = (row * width + col) * 4;
      const a = rgba[s + 3] ?? 0;
      if (a === 0) continue;
      const d = ((y + row) * image.width + x + col) * 3;
      const f = a / 255;
      for (let k = 0; k < 3; k++)
        out[d + k] = Math.round((rgba[s + k] ?? 0) * f + (out[d + k] ?? 0) * (1 - f));
    }
  }
}
