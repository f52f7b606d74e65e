import { createHash } from 'node:crypto';
import { constants, copyFileSync, linkSync, readdirSync, statSync, type Stats } from 'node:fs';
import { access, rename, rm } from 'node:fs/promises';
import { delimiter, extname, join } from 'node:path';
import { hasScheme } from '../../policy/glob.js';
import { runProcess } from '../../backends/process.js';
import { makeDir, makeDirSync } from '../../util/make-dir.js';

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
 *
 * With a store (the run command keeps one in the recipe's state folder), thumbnails are shared
 * between runs: a run whose outputs did not change (a cached re-run) hard-links the store's
 * thumbnails into its own folder instead of decoding 200 images again, and does not even load
 * sharp. The run folder stays self-contained (links, or copies where links fail). Store entries
 * that no run folder links any more are removed when a report is built.
 */

export type MediaKind = 'image' | 'video' | 'other';

const IMAGE = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.avif', '.tif', '.tiff']);
const VIDEO = new Set(['.mp4', '.mov', '.webm', '.m4v', '.mkv']);

export function mediaKind(path: string): MediaKind {
  // A URL's query and fragment are not its name; in a local file's name, `?` and `#` are.
  const ext = extname(hasScheme(path) ? path.replace(/[?#].*$/, '') : path).toLowerCase();
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
  /** A folder of thumbnails shared between runs (see above). Default: none. */
  readonly store?: string;
}

/** The thumbnails' folder inside the run folder. */
const THUMBS_FOLDER = 'thumbs';

/** Bumped when the thumbnail recipe changes, so old thumbnails are not reused. */
const THUMB_FORMAT = 1;

export class PreviewMaker {
  readonly #dir: string;
  readonly #store: string | undefined;
  readonly #size: number;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #ffmpegOption: string | null | undefined;
  /** Looked up on PATH when a poster is first needed (a re-run reuses them all). */
  #ffmpeg: Promise<string | null> | undefined;
  readonly #memo = new Map<string, Promise<Preview>>();
  readonly #used = new Set<string>();
  #existing: Promise<Map<string, string>> | undefined;
  #stored: Promise<Map<string, string>> | undefined;
  #dirMade = false;
  #running = 0;
  readonly #queue: (() => void)[] = [];
  readonly #concurrency: number;
  /** Thumbnails written by this build, and reused from an earlier one. */
  made = 0;
  reused = 0;

  constructor(runDir: string, options: PreviewOptions) {
    this.#dir = join(runDir, THUMBS_FOLDER);
    this.#store = options.store;
    this.#size = options.size ?? 320;
    this.#concurrency = options.concurrency ?? 4;
    this.#env = options.env;
    this.#ffmpegOption = options.ffmpeg;
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

  /**
   * Removes thumbnails that no preview of this build used, and store entries that no run folder
   * links any more (a link count of one: only the store holds them).
   */
  async prune(): Promise<void> {
    const existing = await this.#listExisting();
    for (const name of existing.values())
      if (!this.#used.has(name)) await rm(join(this.#dir, name), { force: true });
    if (this.#store === undefined) return;
    for (const name of (await this.#listStored()).values()) {
      if (this.#used.has(name)) continue;
      const entry = join(this.#store, name);
      const links = statNow(entry)?.nlink;
      if (links !== undefined && links <= 1) await rm(entry, { force: true });
    }
  }

  async #make(path: string): Promise<Preview> {
    const info = statNow(path);
    if (!info?.isFile()) return { kind: 'missing' };
    const kind = mediaKind(path);
    if (kind === 'other') return { kind: 'link' };
    const key = createHash('sha256')
      .update(`${THUMB_FORMAT}\0${this.#size}\0${kind}\0${path}\0${info.size}\0${info.mtimeMs}`)
      .digest('hex')
      .slice(0, 20);
    const existing = (await this.#listExisting()).get(key) ?? (await this.#fromStore(key));
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
      const ffmpeg = await (this.#ffmpeg ??=
        this.#ffmpegOption !== undefined
          ? Promise.resolve(this.#ffmpegOption)
          : findOnPath('ffmpeg', this.#env));
      if (ffmpeg === null) return { kind: 'link', why: 'no poster: ffmpeg is not on PATH' };
      const frame = join(this.#dir, `.${key}.frame.png`);
      await makeDir(this.#dir);
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

  /** Links the store's thumbnail for `key` into this run's folder; its name, or undefined. */
  async #fromStore(key: string): Promise<string | undefined> {
    if (this.#store === undefined) return undefined;
    const name = (await this.#listStored()).get(key);
    if (name === undefined) return undefined;
    if (!this.#dirMade) {
      makeDirSync(this.#dir);
      this.#dirMade = true;
    }
    return share(join(this.#store, name), join(this.#dir, name)) ? name : undefined;
  }

  async #thumbnail(source: string, key: string): Promise<Thumb | { error: string }> {
    await makeDir(this.#dir);
    const temp = join(this.#dir, `.${key}.${process.pid}.tmp.jpg`);
    try {
      // Loaded on first use: a run whose thumbnails all come from the store never needs it.
      const { default: sharp } = await import('sharp');
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
      if (this.#store !== undefined) {
        // The state folder's rule: folders 0700. The files are hard links of the run folder's
        // thumbnails (outputs, shared as such), so they keep that inode's mode.
        await makeDir(this.#store, 0o700);
        share(join(this.#dir, name), join(this.#store, name));
      }
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
      // The folder is always <run dir>/thumbs: no path arithmetic per thumbnail (path.relative
      // resolved both paths, once per output of a 200-stage report).
      href: `${THUMBS_FOLDER}/${name}`,
      width: Number(m[1]),
      height: Number(m[2]),
    };
  }

  #listExisting(): Promise<Map<string, string>> {
    this.#existing ??= listThumbs(this.#dir);
    return this.#existing;
  }

  #listStored(): Promise<Map<string, string>> {
    this.#stored ??= this.#store === undefined ? Promise.resolve(new Map()) : listThumbs(this.#store);
    return this.#stored;
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

/** A stat, synchronously (~3 µs, perf-notes; a report stats every output), or undefined. */
function statNow(path: string): Stats | undefined {
  return statSync(path, { throwIfNoEntry: false });
}

/** Thumbnails in a folder, by key. */
function listThumbs(dir: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return Promise.resolve(map);
  }
  for (const n of names) {
    const m = /^([0-9a-f]{20})-\d+x\d+\.jpg$/.exec(n);
    if (m) map.set(m[1]!, n);
  }
  return Promise.resolve(map);
}

/**
 * Puts `from` at `to`: a hard link, or a copy where the file system refuses links. False if
 * neither worked. Synchronous: a cached re-run links every thumbnail, and 200 links through the
 * thread pool took longer than building the rest of the page.
 */
function share(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return true;
    try {
      copyFileSync(from, to);
      return true;
    } catch {
      return false;
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
