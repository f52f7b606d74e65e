import {
  commentText,
  disclosureInXmp,
  FSP_NAMESPACE,
  labelInComment,
  xmpPacket,
  type LabelInfo,
} from './xmp.js';

/**
 * The disclosure label in a PNG, written as chunks inserted before the first IDAT: the image
 * data is not touched, so the pixels stay identical byte for byte. Text goes in iTXt chunks
 * (UTF-8, uncompressed): `Disclosure` (the label alone, what `verify` reads), `Comment` (a
 * sentence for people), and `XML:com.adobe.xmp` (the XMP packet, unless the file has one).
 */
const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(SIGNATURE);
}

interface Chunk {
  readonly type: string;
  readonly start: number;
  readonly data: Buffer;
}

/** The chunks of a well-formed PNG, or undefined (a wrong length or a missing IEND). */
function chunks(bytes: Buffer): Chunk[] | undefined {
  const out: Chunk[] = [];
  let at = 8;
  while (at + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    if (at + 12 + length > bytes.length) return undefined;
    out.push({ type, start: at, data: bytes.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
    if (type === 'IEND') return out;
  }
  return undefined;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  // zlib is loaded on first use: only a freshly downloaded PNG gets a chunk written, and a run
  // (or a fully cached re-run) that labels none would pay ~5 ms at start-up for it.
  const { crc32 } = process.getBuiltinModule('node:zlib');
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function itxt(keyword: string, text: string): Buffer {
  return chunk(
    'iTXt',
    Buffer.concat([Buffer.from(`${keyword}\0\0\0\0\0`, 'latin1'), Buffer.from(text, 'utf8')]),
  );
}

/** A text chunk's keyword and text (tEXt as Latin-1, iTXt uncompressed as UTF-8), else undefined. */
function textOf(c: Chunk): { keyword: string; text: string } | undefined {
  const nul = c.data.indexOf(0);
  if (nul < 0) return undefined;
  const keyword = c.data.toString('latin1', 0, nul);
  if (c.type === 'tEXt') return { keyword, text: c.data.toString('latin1', nul + 1) };
  if (c.type === 'iTXt' && c.data[nul + 1] === 0) {
    // keyword \0 flag method language \0 translated \0 text
    const lang = c.data.indexOf(0, nul + 3);
    const translated = lang < 0 ? -1 : c.data.indexOf(0, lang + 1);
    if (translated >= 0) return { keyword, text: c.data.toString('utf8', translated + 1) };
  }
  return undefined;
}

/** Text chunks by keyword (tEXt as Latin-1, iTXt uncompressed as UTF-8). */
export function pngText(bytes: Uint8Array): Map<string, string> | undefined {
  const list = chunks(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (!list) return undefined;
  const out = new Map<string, string>();
  for (const c of list) {
    const t = textOf(c);
    if (t) out.set(t.keyword, t.text);
  }
  return out;
}

/**
 * Text chunks faceswap-pipe wrote when it labelled the file before (its Disclosure, its Comment
 * sentence, its XMP packet): a new label replaces them rather than sitting beside the old one.
 */
function ours(c: Chunk): boolean {
  const t = textOf(c);
  if (!t) return false;
  if (t.keyword === 'Disclosure') return true;
  if (t.keyword === 'Comment') return labelInComment(t.text) !== undefined;
  return t.keyword === 'XML:com.adobe.xmp' && t.text.includes(FSP_NAMESPACE);
}

export type PngEmbed =
  | { readonly ok: true; readonly bytes: Buffer; readonly methods: readonly string[] }
  | { readonly ok: false; readonly reason: string };

export function embedPng(bytes: Buffer, info: LabelInfo): PngEmbed {
  const list = chunks(bytes);
  if (!list)
    return { ok: false, reason: 'the PNG is malformed (its chunks do not add up), so it was left untouched' };
  if (list.some((c) => c.type === 'caBX'))
    return {
      ok: false,
      reason:
        'the PNG carries a C2PA manifest from the model provider; it was left untouched so that manifest stays valid',
    };
  if (!list.some((c) => c.type === 'IDAT')) return { ok: false, reason: 'the PNG has no image data' };
  const kept = list.filter((c) => !ours(c));
  const added = [itxt('Disclosure', info.label), itxt('Comment', commentText(info))];
  const methods = ['png-text'];
  // zTXt too: libvips writes a file's XMP compressed.
  if (
    !kept.some((c) => /^[tiz]TXt$/.test(c.type) && c.data.toString('latin1', 0, 18) === 'XML:com.adobe.xmp\0')
  ) {
    added.push(itxt('XML:com.adobe.xmp', xmpPacket(info)));
    methods.push('png-xmp');
  }
  const raw = (c: Chunk) => bytes.subarray(c.start, c.start + 12 + c.data.length);
  const out: Buffer[] = [bytes.subarray(0, 8)];
  let inserted = false;
  for (const c of kept) {
    if (c.type === 'IDAT' && !inserted) {
      out.push(...added);
      inserted = true;
    }
    out.push(raw(c));
  }
  return { ok: true, bytes: Buffer.concat(out), methods };
}

/** The label faceswap-pipe wrote into a PNG (`Disclosure` text, else the XMP's), or undefined. */
export function pngLabel(bytes: Uint8Array): string | undefined {
  const text = pngText(bytes);
  if (!text) return undefined;
  const xmp = text.get('XML:com.adobe.xmp');
  return text.get('Disclosure') ?? (xmp === undefined ? undefined : disclosureInXmp(xmp));
}
