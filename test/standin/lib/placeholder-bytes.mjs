// Bytes for a "downloaded" file when the scenario maps no fixture to its URL.
//
// Each URL gets different bytes (the URL is embedded), so tests can tell files apart and hash
// them. PNG and JPEG names get a real 1x1 image (the URL in a tEXt chunk / COM segment), so a
// runner that opens outputs with an image library still works; everything else (videos
// included) gets a short text file saying what it stands for.

import path from 'node:path';

const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAADElEQVQImWNoaGgAAAMEAYEezv+mAAAAAElFTkSuQmCC',
  'base64',
);
const JPEG_1X1 = Buffer.from(
  '/9j/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAABAAEDASIAAhEBAxEB/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/xAAUAQEAAAAAAAAAAAAAAAAAAAAA/8QAFBEBAAAAAAAAAAAAAAAAAAAAAP/aAAwDAQACEQMRAD8AAA//2Q==',
  'base64',
);
/** Bytes of the PNG signature plus the IHDR chunk; the tEXt chunk goes right after. */
const PNG_HEADER_LENGTH = 8 + 25;

/** @param {string} url @param {string} fileName the name the file is saved under */
export function placeholderBytes(url, fileName) {
  const extension = path.extname(fileName).toLowerCase();
  if (extension === '.png') return pngWithText('Source', url);
  if (extension === '.jpg' || extension === '.jpeg') return jpegWithComment(url);
  return Buffer.from(`runcomfy stand-in placeholder\nurl: ${url}\n`, 'utf8');
}

function pngWithText(keyword, text) {
  const data = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]);
  const type = Buffer.from('tEXt', 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
  const chunk = Buffer.concat([length, type, data, crc]);
  return Buffer.concat([PNG_1X1.subarray(0, PNG_HEADER_LENGTH), chunk, PNG_1X1.subarray(PNG_HEADER_LENGTH)]);
}

function jpegWithComment(text) {
  const comment = Buffer.from(text, 'utf8').subarray(0, 65_000);
  const marker = Buffer.from([0xff, 0xfe, 0, 0]);
  marker.writeUInt16BE(comment.length + 2, 2);
  // SOI (2 bytes), then the COM segment, then the rest of the image.
  return Buffer.concat([JPEG_1X1.subarray(0, 2), marker, comment, JPEG_1X1.subarray(2)]);
}

let crcTable;

/** CRC-32 as PNG chunks use it (zlib.crc32 only exists from Node 20.15/22.2). */
function crc32(bytes) {
  crcTable ??= Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  let crc = 0xffffffff;
  for (const byte of bytes) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
