import { open, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../state/atomic.js';
import { embedJpeg, isJpeg, jpegComments, jpegLabel } from './jpeg.js';
import { embedMp4, isMp4, mp4Label } from './mp4.js';
import { embedPng, isPng, pngLabel } from './png.js';
import { embedWebp, isWebp, webpLabel } from './webp.js';
import { labelInComment, type LabelInfo } from './xmp.js';

/**
 * Writes the disclosure label into an output file's own metadata, where its format allows,
 * without changing a pixel or a frame: PNG text chunks and XMP, JPEG XMP and comment, WebP XMP
 * (all by inserting metadata next to the untouched image data), MP4 tags through ffmpeg's
 * stream copy. Formats are told by their bytes, not their names.
 */
export type MediaFormat = 'png' | 'jpeg' | 'webp' | 'mp4' | 'other';

type Env = Readonly<Record<string, string | undefined>>;

export interface EmbedOutcome {
  readonly format: MediaFormat;
  /** How the label went in (`png-text`, `png-xmp`, `jpeg-xmp`, `jpeg-comment`, `webp-xmp`, `mp4-comment`); empty when it did not. */
  readonly methods: readonly string[];
  /** Why it did not, for the provenance record. */
  readonly warning?: string;
}

export async function detectFormat(path: string): Promise<MediaFormat> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(16);
    const { bytesRead } = await handle.read(head, 0, 16, 0);
    const bytes = head.subarray(0, bytesRead);
    if (isPng(bytes)) return 'png';
    if (isJpeg(bytes)) return 'jpeg';
    if (isWebp(bytes)) return 'webp';
    if (isMp4(bytes)) return 'mp4';
    return 'other';
  } finally {
    await handle.close();
  }
}

/** The method that carries the label a file already has, per format (for a stage recorded twice). */
const PRIMARY: Readonly<Record<MediaFormat, string | undefined>> = {
  png: 'png-text',
  jpeg: 'jpeg-xmp',
  webp: 'webp-xmp',
  mp4: 'mp4-comment',
  other: undefined,
};

export async function embedLabel(path: string, info: LabelInfo, env: Env): Promise<EmbedOutcome> {
  const format = await detectFormat(path);
  // Idempotent: a file that already carries this label (a stage recorded again) is left alone.
  if (format !== 'other' && format !== 'mp4' && (await readEmbeddedLabel(path, env)).label === info.label)
    return { format, methods: [PRIMARY[format]!] };
  switch (format) {
    case 'png':
    case 'jpeg':
    case 'webp': {
      const bytes = await readFile(path);
      const result =
        format === 'png'
          ? embedPng(bytes, info)
          : format === 'jpeg'
            ? embedJpeg(bytes, info)
            : embedWebp(bytes, info);
      if (!result.ok) return { format, methods: [], warning: result.reason };
      await writeFileAtomic(path, result.bytes);
      return { format, methods: result.methods };
    }
    case 'mp4': {
      const result = await embedMp4(path, info, env);
      return result.ok
        ? { format, methods: result.methods }
        : { format, methods: [], warning: result.reason };
    }
    case 'other':
      return {
        format,
        methods: [],
        warning: 'the file is not a PNG, JPEG, WebP or MP4, so the label is in the provenance record only',
      };
  }
}

/**
 * The label found in a file's metadata: a string, `undefined` when there is none, or `null`
 * when this machine cannot read it (an MP4 without ffprobe on PATH).
 */
export async function readEmbeddedLabel(
  path: string,
  env: Env,
): Promise<{ format: MediaFormat; label: string | undefined | null }> {
  const format = await detectFormat(path);
  switch (format) {
    case 'png':
      return { format, label: pngLabel(await readFile(path)) };
    case 'jpeg': {
      const bytes = await readFile(path);
      return {
        format,
        label:
          jpegLabel(bytes) ??
          jpegComments(bytes)
            .map(labelInComment)
            .find((l) => l !== undefined),
      };
    }
    case 'webp':
      return { format, label: webpLabel(await readFile(path)) };
    case 'mp4':
      return { format, label: await mp4Label(path, env) };
    case 'other':
      return { format, label: undefined };
  }
}
