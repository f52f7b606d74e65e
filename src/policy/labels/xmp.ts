/**
 * The XMP packet faceswap-pipe writes into images (PNG iTXt, JPEG APP1, WebP `XMP ` chunk): the
 * disclosure label as `dc:description`, the IPTC digital source type for media composited with
 * a trained model, the tool, and our own `fsp:` properties that `verify` reads back.
 */
export interface LabelInfo {
  /** The disclosure label, e.g. `AI-generated`. */
  readonly label: string;
  /** `faceswap-pipe 0.1.0`. */
  readonly generator: string;
  readonly recipe: string;
  readonly stage: string;
  /** File name of the provenance record beside the file. */
  readonly record: string;
}

export const FSP_NAMESPACE = 'https://faceswap-pipe.dev/ns/provenance/1.0/';
const DIGITAL_SOURCE_TYPE =
  'http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia';

export function xmpPacket(info: LabelInfo): string {
  const a = (text: string) => escapeXml(text);
  return [
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    '  <rdf:Description rdf:about=""',
    '    xmlns:dc="http://purl.org/dc/elements/1.1/"',
    '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"',
    '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"',
    `    xmlns:fsp="${FSP_NAMESPACE}"`,
    `    xmp:CreatorTool="${a(info.generator)}"`,
    `    Iptc4xmpExt:DigitalSourceType="${DIGITAL_SOURCE_TYPE}"`,
    `    fsp:Disclosure="${a(info.label)}"`,
    `    fsp:Recipe="${a(info.recipe)}"`,
    `    fsp:Stage="${a(info.stage)}"`,
    `    fsp:ProvenanceRecord="${a(info.record)}">`,
    `   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">${a(info.label)}</rdf:li></rdf:Alt></dc:description>`,
    '  </rdf:Description>',
    ' </rdf:RDF>',
    '</x:xmpmeta>',
    '<?xpacket end="r"?>',
  ].join('\n');
}

/** The `fsp:Disclosure` of a packet faceswap-pipe wrote, or undefined. */
export function disclosureInXmp(packet: string): string | undefined {
  const match = /fsp:Disclosure="([^"]*)"/.exec(packet);
  return match ? unescapeXml(match[1]!) : undefined;
}

/** The one-line comment written where a format has a comment field (PNG `Comment`, JPEG COM, MP4 `comment`). */
export function commentText(info: LabelInfo): string {
  return `${info.label}. Made with ${info.generator} (recipe ${info.recipe}, stage ${info.stage}); provenance record: ${info.record}`;
}

/** The label of a comment {@link commentText} wrote, or undefined for anyone else's comment. */
export function labelInComment(text: string): string | undefined {
  const match = /^([\s\S]*)\. Made with faceswap-pipe [^ ]+ \(recipe /.exec(text);
  return match ? match[1] : undefined;
}

function escapeXml(text: string): string {
  return (
    text
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      // Control characters are not allowed in XML 1.0.
      .replace(/\p{Cc}/gu, (c) => (c === '\t' || c === '\n' || c === '\r' ? c : ''))
  );
}

function unescapeXml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}
