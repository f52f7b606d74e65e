import {
  commentText,
  disclosureInXmp,
  FSP_NAMESPACE,
  labelInComment,
  xmpPacket,
  type LabelInfo,
} from './xmp.js';

/**
 * The disclosure label in a JPEG, written as new marker segments after the leading APP0 (JFIF)
 * and APP1 (Exif) segments: an APP1 XMP packet (unless the file has one: only one is allowed)
 * and a COM comment. The compressed image data is not touched, so no re-encoding and no loss.
 */
const XMP_HEADER = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

interface Segment {
  readonly marker: number;
  readonly start: number;
  /** Payload, without marker and length. */
  readonly data: Buffer;
}

/** The marker segments before the scan data (SOS), or undefined when they do not parse. */
function segments(bytes: Buffer): Segment[] | undefined {
  const out: Segment[] = [];
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    if (marker === 0xd9) return out;
    const length = bytes.readUInt16BE(at + 2);
    if (length < 2 || at + 2 + length > bytes.length) return undefined;
    out.push({ marker, start: at, data: bytes.subarray(at + 4, at + 2 + length) });
    if (marker === 0xda) return out;
    at += 2 + length;
  }
  return undefined;
}

function segment(marker: number, data: Buffer): Buffer {
  const head = Buffer.from([0xff, marker, 0, 0]);
  head.writeUInt16BE(data.length + 2, 2);
  return Buffer.concat([head, data]);
}

const isXmp = (s: Segment) => s.marker === 0xe1 && s.data.subarray(0, XMP_HEADER.length).equals(XMP_HEADER);
const isExif = (s: Segment) => s.marker === 0xe1 && s.data.toString('latin1', 0, 6) === 'Exif\0\0';
const isJumbf = (s: Segment) => s.marker === 0xeb && s.data.toString('latin1', 0, 2) === 'JP';

export type JpegEmbed =
  | { readonly ok: true; readonly bytes: Buffer; readonly methods: readonly string[] }
  | { readonly ok: false; readonly reason: string };

export function embedJpeg(bytes: Buffer, info: LabelInfo): JpegEmbed {
  const list = segments(bytes);
  if (!list)
    return {
      ok: false,
      reason: 'the JPEG is malformed (its segments do not parse), so it was left untouched',
    };
  if (list.some(isJumbf))
    return {
      ok: false,
      reason:
        'the JPEG carries a C2PA manifest from the model provider; it was left untouched so that manifest stays valid',
    };
  // A label written before (the recipe's label changed since) is replaced, not added to.
  const sos = list.find((s) => s.marker === 0xda);
  if (sos === undefined) return { ok: false, reason: 'the JPEG has no image data' };
  const kept = list.filter((s) => s !== sos && !ours(s));
  const added: Buffer[] = [];
  const methods: string[] = [];
  if (!kept.some(isXmp)) {
    const packet = Buffer.concat([XMP_HEADER, Buffer.from(xmpPacket(info), 'utf8')]);
    if (packet.length <= 65533) {
      added.push(segment(0xe1, packet));
      methods.push('jpeg-xmp');
    }
  }
  const comment = Buffer.from(commentText(info), 'utf8').subarray(0, 65533);
  added.push(segment(0xfe, comment));
  methods.push('jpeg-comment');
  const out: Buffer[] = [bytes.subarray(0, 2)];
  let inserted = false;
  for (const s of kept) {
    // After the leading APP0 (JFIF) and Exif segments, as readers expect them first.
    if (!inserted && s.marker !== 0xe0 && !isExif(s)) {
      out.push(...added);
      inserted = true;
    }
    out.push(bytes.subarray(s.start, s.start + 4 + s.data.length));
  }
  if (!inserted) out.push(...added);
  out.push(bytes.subarray(sos.start));
  return { ok: true, bytes: Buffer.concat(out), methods };
}

/** An XMP packet or a comment faceswap-pipe wrote when it labelled the file before. */
function ours(s: Segment): boolean {
  if (isXmp(s)) return s.data.toString('utf8', XMP_HEADER.length).includes(FSP_NAMESPACE);
  return s.marker === 0xfe && labelInComment(s.data.toString('utf8')) !== undefined;
}

/** The label faceswap-pipe wrote into a JPEG (from its XMP), or undefined. */
export function jpegLabel(bytes: Uint8Array): string | undefined {
  const list = segments(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (!list) return undefined;
  for (const s of list) {
    if (!isXmp(s)) continue;
    const label = disclosureInXmp(s.data.toString('utf8', XMP_HEADER.length));
    if (label !== undefined) return label;
  }
  return undefined;
}

/** The COM comments of a JPEG (for `verify`, when the XMP was someone else's). */
export function jpegComments(bytes: Uint8Array): string[] {
  const list = segments(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) ?? [];
  return list.filter((s) => s.marker === 0xfe).map((s) => s.data.toString('utf8'));
}
