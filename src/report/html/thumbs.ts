import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { delimiter, extname, join, relative, sep } from 'node:path';
import sharp from 'sharp';
import { runProcess } from '../../backends/process.js';

/**
 * Previews for the contact sheet: JPEG thumbnails made with sharp, at most `size` pixels on
 * their longer side (320 by default), written to `<run dir>/thumbs/` and referenced relatively.
 *
 * Files rather than data: URIs, so the HTML stays small however big the campaign: a 200-image
 * run is a ~100 KB page plus 200 thumbnails of 10–25 KB that the browser loads lazily as they
 * scroll into view, where inlining would make a multi-megabyte page that must be parsed whole
 * before it shows anything. The run folder is what gets uploaded as an artifact, so the page
 * and its thumbnails travel together.
 *
 * Thumbnails are named by a hash of the source's path, size and modification time, so a
 * rebuilt report reuses them, and ones no longer referenced are removed. Video posters come
 * from the first frame, when `ffmpeg` is on PATH; otherwise a video is a plain link.
 */

export type MediaKind = 'image' | 'video' | 'other';

const IMAGE = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.avif', '.tif', '.tiff']);
const VIDEO = new Set(['.mp4', '.mov', '.webm', '.m4v', '.mkv']);

export function mediaKind(path: string): MediaKind {
  const ext = extname(path.replace(/[?#].*$/, '')).toLowerCase();
  return IMAGE.has(ext) ? 'image' : VIDEO.has(ext) ? 'video' : 'other';
}

/** A thumbnail, by its path relative to the run folder (with `/`), and its pixel size. */
export interface Thumb {
  readonly href: string;
  readonly width: number;
  readonly height: number;
}

export type Preview =
  | { readonly kind: 'image'; readonly thumb: Thumb }
  | { readonly kind: 'video'; readonly poster: Thumb }
  /** No picture: another kind of file, a video without ffmpeg, or a file sharp cannot read. */
  | { readonly kind: 'link'; readonly why?: string }
  | { readonly kind: 'missing' };

export interface PreviewOptions {
  /** Longest side of a thumbnail in pixels. Default 320. */
  readonly size?: number;
  /** Thumbnails made at once (sharp also uses its own threads). Default 4. */
  readonly concurrency?: number;
  /** The ffmpeg executable for video posters; `null` for none. Default: `ffmpeg` on the env's PATH. */
  readonly ffmpeg?: string | null;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Bumped when the thumbnail recipe changes, so old thumbnails are not reused. */
const THUMB_FORMAT = 1;

export class PreviewMaker {
  readonly #runDir: string;
  readonly #dir: string;
  readonly #size: number;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #ffmpeg: Promise<string | null>;
  readonly #memo = new Map<string, Promise<Preview>>();
  readonly #used = new Set<string>();
  #existing: Promise<Map<string, string>> | undefined;
  #running = 0;
  readonly #queue: (() => void)[] = [];
  readonly #concurrency: number;
  /** Thumbnails written by this build, and reused from an earlier one. */
  made = 0;
  reused = 0;

  constructor(runDir: string, options: PreviewOptions) {
    this.#runDir = runDir;
    this.#dir = join(runDir, 'thumbs');
    this.#size = options.size ?? 320;
    this.#concurrency = options.concurrency ?? 4;
    this.#env = options.env;
    this.#ffmpeg =
      options.ffmpeg !== undefined ? Promise.resolve(options.ffmpeg) : findOnPath('ffmpeg', options.env);
  }

  /** The preview of a local file (memoised: the same file shown twice is processed once). */
  preview(path: string): Promise<Preview> {
    let p = this.#memo.get(path);
    if (!p) {
      p = this.#make(path);
      this.#memo.set(path, p);
    }
    return p;
  }

  /** Removes thumbnails that no preview of this build used. */
  async prune(): Promise<void> {
    const existing = await this.#listExisting();
    for (const name of existing.values())
      if (!this.#used.has(name)) await rm(join(this.#dir, name), { force: true });
  }

  async #make(path: string): Promise<Preview> {
    let info;
    try {
      info = await stat(path);
    } catch {
      return { kind: 'missing' };
    }
    if (!info.isFile()) return { kind: 'missing' };
    const kind = mediaKind(path);
    if (kind === 'other') return { kind: 'link' };
    const key = createHash('sha256')
      .update(`${THUMB_FORMAT}\0${this.#size}\0${kind}\0${path}\0${info.size}\0${info.mtimeMs}`)
      .digest('hex')
      .slice(0, 20);
    const existing = (await this.#listExisting()).get(key);
    if (existing !== undefined) {
      const thumb = this.#thumbOf(existing);
      if (thumb) {
        this.#used.add(existing);
        this.reused++;
        return kind === 'image' ? { kind, thumb } : { kind: 'video', poster: thumb };
      }
    }
    return this.#limit(async () => {
      if (kind === 'image') {
        const thumb = await this.#thumbnail(path, key);
        return 'error' in thumb ? { kind: 'link', why: thumb.error } : { kind: 'image', thumb };
      }
      const ffmpeg = await this.#ffmpeg;
      if (ffmpeg === null) return { kind: 'link', why: 'no poster: ffmpeg is not on PATH' };
      const frame = join(this.#dir, `.${key}.frame.png`);
      await mkdir(this.#dir, { recursive: true });
      const result = await runProcess({
        file: ffmpeg,
        args: [
          '-hide_banner',
          '-loglevel',
          'error',
          '-nostdin',
          '-y',
          '-i',
          path,
          '-frames:v',
          '1',
          '-f',
          'image2',
          frame,
        ],
        env: this.#env,
        signal: AbortSignal.timeout(30_000),
      });
      try {
        if (result.kind !== 'exited' || result.exitCode !== 0)
          return { kind: 'link', why: 'no poster: ffmpeg could not read a frame' };
        const poster = await this.#thumbnail(frame, key);
        return 'error' in poster ? { kind: 'link', why: poster.error } : { kind: 'video', poster };
      } finally {
        await rm(frame, { force: true });
      }
    });
  }

  async #thumbnail(source: string, key: string): Promise<Thumb | { error: string }> {
    await mkdir(this.#dir, { recursive: true });
    const temp = join(this.#dir, `.${key}.${process.pid}.tmp.jpg`);
    try {
      const out = await sharp(source, { failOn: 'none' })
        .rotate()
        .resize({ width: this.#size, height: this.#size, fit: 'inside', withoutEnlargement: true })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality: 72, mozjpeg: true })
        .toFile(temp);
      const name = `${key}-${out.width}x${out.height}.jpg`;
      await rename(temp, join(this.#dir, name));
      this.#used.add(name);
      this.made++;
      return this.#thumbOf(name)!;
    } catch (cause) {
      await rm(temp, { force: true });
      return { error: `no preview: ${(cause as Error).message.split('\n')[0] ?? 'unreadable image'}` };
    }
  }

  #thumbOf(name: string): Thumb | undefined {
    const m = /-(\d+)x(\d+)\.jpg$/.exec(name);
    if (!m) return undefined;
    return {
      href: relative(this.#runDir, join(this.#dir, name)).split(sep).join('/'),
      width: Number(m[1]),
      height: Number(m[2]),
    };
  }

  #listExisting(): Promise<Map<string, string>> {
    this.#existing ??= readdir(this.#dir).then(
      (names) => {
        const map = new Map<string, string>();
        for (const n of names) {
          const m = /^([0-9a-f]{20})-\d+x\d+\.jpg$/.exec(n);
          if (m) map.set(m[1]!, n);
        }
        return map;
      },
      () => new Map<string, string>(),
    );
    return this.#existing;
  }

  async #limit<T>(task: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) await new Promise<void>((resolve) => this.#queue.push(resolve));
    this.#running++;
    try {
      return await task();
    } finally {
      this.#running--;
      this.#queue.shift()?.();
    }
  }
}

/** The first executable named `name` on the env's PATH, or null. */
export async function findOnPath(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | null> {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
