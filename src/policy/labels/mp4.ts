import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { runProcess } from '../../backends/process.js';
import { commentText, labelInComment, type LabelInfo } from './xmp.js';

/**
 * The disclosure label in an MP4 (or MOV): `ffmpeg -codec copy` rewrites the container with a
 * `comment` tag (the label sentence) and a `description` tag (the label alone), without
 * re-encoding a frame. ffmpeg is optional: without it on PATH the label is in the provenance
 * record only, and the record says so.
 */
type Env = Readonly<Record<string, string | undefined>>;

/** The C2PA box id of ISO BMFF files (`uuid` box). */
const C2PA_UUID = Buffer.from('d8fec3d61b0e483c92975828877ec481', 'hex');

/** True for an ISO BMFF file (MP4, MOV, M4V): an `ftyp` box first. */
export function isMp4(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && Buffer.from(bytes.subarray(4, 8)).toString('latin1') === 'ftyp';
}

/** Whether a top-level `uuid` box holds a C2PA manifest (read box headers only: videos are large). */
async function hasC2pa(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(32);
    let at = 0;
    for (let boxes = 0; at + 8 <= size && boxes < 10_000; boxes++) {
      const { bytesRead } = await handle.read(head, 0, 32, at);
      if (bytesRead < 8) return false;
      let length = head.readUInt32BE(0);
      const type = head.toString('latin1', 4, 8);
      let header = 8;
      if (length === 1) {
        length = Number(head.readBigUInt64BE(8));
        header = 16;
      } else if (length === 0) length = size - at;
      if (length < header) return false;
      if (type === 'uuid' && head.subarray(header, header + 16).equals(C2PA_UUID)) return true;
      at += length;
    }
    return false;
  } finally {
    await handle.close();
  }
}

export type Mp4Embed =
  | { readonly ok: true; readonly methods: readonly string[] }
  | { readonly ok: false; readonly reason: string };

export async function embedMp4(path: string, info: LabelInfo, env: Env): Promise<Mp4Embed> {
  if (await hasC2pa(path))
    return {
      ok: false,
      reason:
        'the video carries a C2PA manifest from the model provider; it was left untouched so that manifest stays valid',
    };
  const temp = join(dirname(path), `.${basename(path, extname(path))}.labelled${extname(path)}`);
  const result = await runProcess({
    file: 'ffmpeg',
    args: [
      '-nostdin',
      '-v',
      'error',
      '-y',
      '-i',
      path,
      '-map',
      '0',
      '-codec',
      'copy',
      '-map_metadata',
      '0',
      '-metadata',
      `comment=${commentText(info)}`,
      '-metadata',
      `description=${info.label}`,
      temp,
    ],
    env,
  });
  if (result.kind === 'not-started') {
    await rm(temp, { force: true });
    return { ok: false, reason: 'ffmpeg is not on PATH, so the label is in the provenance record only' };
  }
  if (result.kind !== 'exited' || result.exitCode !== 0) {
    await rm(temp, { force: true });
    const detail = result.stderr.trim().split('\n').at(-1) ?? '';
    return {
      ok: false,
      reason: `ffmpeg could not rewrite the video (${detail || result.kind}), so the label is in the provenance record only`,
    };
  }
  await rename(temp, path);
  return { ok: true, methods: ['mp4-comment'] };
}

/**
 * The label ffprobe reads from a video: the `description` tag, or the label sentence of the
 * `comment` tag where the container keeps no description (.mov); `undefined` when absent, `null`
 * without ffprobe.
 */
export async function mp4Label(path: string, env: Env): Promise<string | undefined | null> {
  const result = await runProcess({
    file: 'ffprobe',
    args: ['-v', 'error', '-show_entries', 'format_tags', '-of', 'json', path],
    env,
  });
  if (result.kind === 'not-started') return null;
  if (result.kind !== 'exited' || result.exitCode !== 0) return undefined;
  try {
    const parsed = JSON.parse(result.stdout) as { format?: { tags?: Record<string, string> } };
    const tags = parsed.format?.tags ?? {};
    const tag = (name: string) => {
      const key = Object.keys(tags).find((k) => k.toLowerCase() === name);
      return key === undefined ? undefined : tags[key];
    };
    // QuickTime (.mov) keeps no `description`: the label is then read from the comment sentence.
    const description = tag('description');
    if (description !== undefined) return description;
    const comment = tag('comment');
    return comment === undefined ? undefined : labelInComment(comment);
  } catch {
    return undefined;
  }
}
