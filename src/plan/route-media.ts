/**
 * What kind of media a `swap:` value is. The router decides by the kind of each input, so the
 * rules for finding it are written down once, here: an explicit `{url, medium}` wins, then the
 * URL's file extension, then (for an expression on an upstream stage's results) what that
 * stage's model produces. Anything else is unknown, and the router says so rather than guess.
 */

export type MediaKind = 'image' | 'video' | 'audio';

/** How a value's kind was found; `unknown` says why it could not be. */
export type KindSource =
  | { readonly by: 'medium' }
  | { readonly by: 'extension'; readonly extension: string }
  | { readonly by: 'upstream'; readonly stage: string; readonly model: string }
  /** The foreach items' own kind; `item`: the first item of the wrong kind, among several kinds. */
  | { readonly by: 'foreach-items'; readonly item?: number; readonly extension?: string }
  | { readonly by: 'unknown'; readonly why: string };

const EXTENSIONS: Readonly<Record<string, MediaKind>> = {
  jpg: 'image',
  jpeg: 'image',
  png: 'image',
  webp: 'image',
  gif: 'image',
  mp4: 'video',
  mov: 'video',
  webm: 'video',
  mkv: 'video',
  mp3: 'audio',
  wav: 'audio',
  m4a: 'audio',
  aac: 'audio',
  ogg: 'audio',
  flac: 'audio',
};

/** The extensions the router knows, by kind (for messages and docs). */
export function knownExtensions(kind: MediaKind): string[] {
  return Object.entries(EXTENSIONS)
    .filter(([, k]) => k === kind)
    .map(([e]) => `.${e}`);
}

/**
 * The file extension of a URL or path, lower-cased, without the dot: the last path segment's,
 * with any query string and fragment dropped. `undefined` when the last segment has none.
 */
export function extensionOf(url: string): string | undefined {
  const path = url.split('#')[0]!.split('?')[0]!;
  const segment = path.slice(path.lastIndexOf('/') + 1);
  const dot = segment.lastIndexOf('.');
  if (dot <= 0 || dot === segment.length - 1) return undefined;
  return segment.slice(dot + 1).toLowerCase();
}

/** The kind a URL's extension says, with how it was found. */
export function kindFromUrl(url: string): { kind: MediaKind | undefined; source: KindSource } {
  const extension = extensionOf(url);
  if (extension === undefined)
    return { kind: undefined, source: { by: 'unknown', why: 'the URL has no file extension' } };
  const kind = EXTENSIONS[extension];
  if (kind === undefined)
    return {
      kind: undefined,
      source: { by: 'unknown', why: `".${extension}" is not an extension the router knows` },
    };
  return { kind, source: { by: 'extension', extension } };
}

/** Words for a kind source, as `route` prints them: `by extension .jpg`. */
export function describeKindSource(source: KindSource): string {
  switch (source.by) {
    case 'medium':
      return 'as given by "medium"';
    case 'extension':
      return `by extension .${source.extension}`;
    case 'upstream':
      return `output of stage "${source.stage}" (${source.model})`;
    case 'foreach-items':
      return source.item === undefined
        ? 'from the foreach items'
        : `foreach item ${source.item}${source.extension === undefined ? '' : ` by extension .${source.extension}`}`;
    case 'unknown':
      return `unknown: ${source.why}`;
  }
}
