import { disclosureInXmp, FSP_NAMESPACE, xmpPacket, type LabelInfo } from './xmp.js';

/**
 * The disclosure label in a WebP, as an `XMP ` chunk in the RIFF container. A simple (VP8 or
 * VP8L) file is turned into the extended format first: a VP8X header with the canvas size and
 * the XMP flag goes in front of the untouched bitstream, so the pixels stay identical.
 */
export function isWebp(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 12 &&
    Buffer.from(bytes.subarray(0, 4)).toString('latin1') === 'RIFF' &&
    Buffer.from(bytes.subarray(8, 12)).toString('latin1') === 'WEBP'
  );
}

interface Chunk {
  readonly type: string;
  readonly start: number;
  readonly data: Buffer;
}

function chunks(bytes: Buffer): Chunk[] | undefined {
  const out: Chunk[] = [];
  let at = 12;
  while (at + 8 <= bytes.length) {
    const type = bytes.toString('latin1', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    if (at + 8 + size > bytes.length) return undefined;
    out.push({ type, start: at, data: bytes.subarray(at + 8, at + 8 + size) });
    at += 8 + size + (size % 2);
  }
  return out.length > 0 ? out : undefined;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.write(type, 0, 'latin1');
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data, data.length % 2 === 1 ? Buffer.from([0]) : Buffer.alloc(0)]);
}

/** Canvas size and alpha of a simple-format bitstream. */
function canvas(image: Chunk): { width: number; height: number; alpha: boolean } | undefined {
  const d = image.data;
  if (image.type === 'VP8 ' && d.length >= 10 && d[3] === 0x9d && d[4] === 0x01 && d[5] === 0x2a)
    return { width: d.readUInt16LE(6) & 0x3fff, height: d.readUInt16LE(8) & 0x3fff, alpha: false };
  if (image.type === 'VP8L' && d.length >= 5 && d[0] === 0x2f) {
    const bits = d.readUInt32LE(1);
    return {
      width: (bits & 0x3fff) + 1,
      height: ((bits >>> 14) & 0x3fff) + 1,
      alpha: ((bits >>> 28) & 1) === 1,
    };
  }
  return undefined;
}

function uint24(n: number): Buffer {
  return Buffer.from([n & 255, (n >>> 8) & 255, (n >>> 16) & 255]);
}

export type WebpEmbed =
  | { readonly ok: true; readonly bytes: Buffer; readonly methods: readonly string[] }
  | { readonly ok: false; readonly reason: string };

export function embedWebp(bytes: Buffer, info: LabelInfo): WebpEmbed {
  const list = chunks(bytes);
  if (!list)
    return {
      ok: false,
      reason: 'the WebP is malformed (its chunks do not add up), so it was left untouched',
    };
  if (list.some((c) => c.type === 'C2PA'))
    return {
      ok: false,
      reason:
        'the WebP carries a C2PA manifest from the model provider; it was left untouched so that manifest stays valid',
    };
  const xmp = chunk('XMP ', Buffer.from(xmpPacket(info), 'utf8'));
  const existing = list.find((c) => c.type === 'XMP ');
  if (existing && !existing.data.toString('utf8').includes(FSP_NAMESPACE))
    return {
      ok: false,
      reason:
        'the WebP already has an XMP packet (only one is allowed), so the label is in the provenance record only',
    };
  let body: Buffer;
  if (existing) {
    // faceswap-pipe's own packet from an earlier label: replaced in place (VP8X says XMP already).
    const end = existing.start + 8 + existing.data.length + (existing.data.length % 2);
    body = Buffer.concat([bytes.subarray(12, existing.start), xmp, bytes.subarray(end)]);
    return { ok: true, bytes: Buffer.concat([riffHeader(body.length), body]), methods: ['webp-xmp'] };
  }
  const first = list[0]!;
  if (first.type === 'VP8X') {
    const header = Buffer.from(first.data);
    header[0] = header[0]! | 0x04;
    body = Buffer.concat([
      chunk('VP8X', header),
      bytes.subarray(first.start + 8 + first.data.length + (first.data.length % 2)),
      xmp,
    ]);
  } else {
    const size = canvas(first);
    if (!size)
      return { ok: false, reason: 'the WebP bitstream header was not recognised, so it was left untouched' };
    const header = Buffer.concat([
      Buffer.from([0x04 | (size.alpha ? 0x10 : 0), 0, 0, 0]),
      uint24(size.width - 1),
      uint24(size.height - 1),
    ]);
    body = Buffer.concat([chunk('VP8X', header), bytes.subarray(12), xmp]);
  }
  return { ok: true, bytes: Buffer.concat([riffHeader(body.length), body]), methods: ['webp-xmp'] };
}

function riffHeader(bodyLength: number): Buffer {
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(bodyLength + 4, 4);
  riff.write('WEBP', 8, 'latin1');
  return riff;
}

/** The label faceswap-pipe wrote into a WebP (from its XMP chunk), or undefined. */
export function webpLabel(bytes: Uint8Array): string | undefined {
  const list = chunks(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const xmp = list?.find((c) => c.type === 'XMP ');
  return xmp ? disclosureInXmp(xmp.data.toString('utf8')) : undefined;
}
