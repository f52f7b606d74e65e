import { rename, rm } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import type { Rect } from './geometry.js';
import type { Raster } from './raster.js';

/**
 * The engine's only door to sharp. Every read applies the EXIF orientation (`rotate()` with no
 * argument) and converts to 8-bit sRGB, so greyscale, CMYK, 16-bit and paletted inputs all reach
 * the pixel code as packed RGB, in the orientation a viewer shows.
 */

/** What the headers say about an image, in its EXIF-corrected orientation. */
export type Probe =
  | { readonly kind: 'ok'; readonly width: number; readonly height: number; readonly hasAlpha: boolean }
  | { readonly kind: 'unreadable'; readonly detail: string }
  | { readonly kind: 'too-large'; readonly width: number; readonly height: number };

/** Reads only the headers, so a 20 000 × 20 000 image is refused before it is decoded. */
export async function probeImage(path: string, maxPixels: number): Promise<Probe> {
  try {
    const meta = await sharp(path).metadata();
    const width = meta.autoOrient.width;
    const height = meta.autoOrient.height;
    if (!width || !height) return { kind: 'unreadable', detail: 'the file has no image size' };
    if (width * height > maxPixels) return { kind: 'too-large', width, height };
    return { kind: 'ok', width, height, hasAlpha: meta.hasAlpha };
  } catch (error) {
    return { kind: 'unreadable', detail: describeSharpError(error) };
  }
}

/** A decoded image plus the factor from its pixels to the original's (`scale` < 1 if shrunk). */
export interface Decoded extends Raster {
  readonly scale: number;
}

/**
 * Decodes the whole image shrunk so that its longer side is at most `maxSide` (never enlarged).
 * Transparent areas are flattened onto white, which a detector sees as plain background.
 */
export async function decodeForDetection(
  path: string,
  maxPixels: number,
  maxSide: number,
  fullWidth: number,
): Promise<Decoded> {
  const { data, info } = await pipeline(path, maxPixels)
    .resize({ width: maxSide, height: maxSide, fit: 'inside', withoutEnlargement: true })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data: asBytes(data), width: info.width, height: info.height, scale: info.width / fullWidth };
}

/** Decodes the whole EXIF-corrected image as packed 8-bit sRGB (alpha flattened onto white). */
export async function decodeFull(path: string, maxPixels: number): Promise<Raster> {
  const { data, info } = await pipeline(path, maxPixels)
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data: asBytes(data), width: info.width, height: info.height };
}

/**
 * Decodes one rectangle of the (EXIF-corrected) image, optionally resized to `outWidth` ×
 * `outHeight`, as packed RGB. The rectangle must lie inside the image.
 */
export async function decodeRegion(
  path: string,
  maxPixels: number,
  region: Rect,
  outWidth = region.width,
  outHeight = region.height,
): Promise<Raster> {
  let image = pipeline(path, maxPixels).extract({
    left: region.x,
    top: region.y,
    width: region.width,
    height: region.height,
  });
  if (outWidth !== region.width || outHeight !== region.height) {
    image = image.resize({ width: outWidth, height: outHeight, fit: 'fill', kernel: 'lanczos3' });
  }
  const { data, info } = await image
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data: asBytes(data), width: info.width, height: info.height };
}

/** An RGBA patch to lay over the scene at `region`; resized to fit if its own size differs. */
export interface Patch {
  readonly rgba: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly region: Rect;
}

/** What became of a write. */
export type Written =
  | { readonly kind: 'written' }
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'failed'; readonly detail: string };

/**
 * Writes the scene with the patch laid over it as an 8-bit sRGB PNG, without metadata (the
 * orientation is baked into the pixels, so an EXIF tag would rotate it twice). The file appears
 * atomically: written beside the destination under a temporary name, then renamed.
 *
 * sharp cannot be interrupted, so an abort returns at once and the encoding finishes in the
 * background, where the signal is checked again before the rename: the temporary file is removed
 * and the destination is never created.
 */
export async function writeComposite(
  targetPath: string,
  maxPixels: number,
  keepAlpha: boolean,
  patch: Patch,
  outputPath: string,
  signal: AbortSignal | undefined,
): Promise<Written> {
  const temporary = `${outputPath}.${process.pid}.${Date.now()}.tmp`;
  const work = (async (): Promise<Written> => {
    try {
      let overlay: Buffer = Buffer.from(patch.rgba.buffer, patch.rgba.byteOffset, patch.rgba.byteLength);
      if (patch.width !== patch.region.width || patch.height !== patch.region.height) {
        overlay = await sharp(overlay, { raw: { width: patch.width, height: patch.height, channels: 4 } })
          .resize({ width: patch.region.width, height: patch.region.height, fit: 'fill', kernel: 'lanczos3' })
          .raw()
          .toBuffer();
      }
      let image = pipeline(targetPath, maxPixels)
        .toColourspace('srgb')
        .composite([
          {
            input: overlay,
            raw: { width: patch.region.width, height: patch.region.height, channels: 4 },
            left: patch.region.x,
            top: patch.region.y,
          },
        ]);
      if (!keepAlpha) image = image.removeAlpha();
      await image.png({ compressionLevel: 6 }).toFile(temporary);
      if (signal?.aborted) {
        await rm(temporary, { force: true });
        return { kind: 'cancelled' };
      }
      await rename(temporary, outputPath);
      return { kind: 'written' };
    } catch (error) {
      await rm(temporary, { force: true });
      return { kind: 'failed', detail: describeSharpError(error) };
    }
  })();
  if (signal === undefined) return work;
  return new Promise((resolve) => {
    const onAbort = (): void => resolve({ kind: 'cancelled' });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    void work.then((written) => {
      signal.removeEventListener('abort', onAbort);
      resolve(written);
    });
  });
}

function pipeline(path: string, maxPixels: number): Sharp {
  // failOn 'error' rather than the default 'warning': a JPEG whose last bytes are missing still
  // decodes (grey at the bottom) the way viewers show it, instead of failing the whole swap.
  return sharp(path, { limitInputPixels: maxPixels, failOn: 'error' }).rotate();
}

/**
 * A copy in a plain ArrayBuffer of its own: sharp's buffers wrap native memory, which cannot be
 * transferred to the worker, only copied — and we want exactly one copy.
 */
function asBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer);
}

/** Turns sharp's and the file system's wording into a short clause for a user-facing message. */
export function describeSharpError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  const text = error instanceof Error ? error.message : String(error);
  if (/missing|no such file/i.test(text)) return 'no such file';
  if (/unsupported image format/i.test(text))
    return 'not an image in a format we can read (PNG, JPEG, WebP, TIFF, GIF or AVIF)';
  if (/pixel limit/i.test(text)) return 'too many pixels';
  const first = text.split('\n')[0] ?? text;
  return `the image data is damaged (${first.replace(/\s+/g, ' ').trim()})`;
}
