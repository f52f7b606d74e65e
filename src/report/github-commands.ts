import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { TextSink } from '../cli/io.js';
import type { Diagnostic, DiagnosticLocation } from '../recipe/diagnostic.js';
import { MAX_NOTES, moreNotes, where } from './diagnostics-text.js';

/**
 * GitHub Actions workflow commands (`::error file=…::message`, `::group::`, `::add-mask::`):
 * the runner reads them from a step's stdout and stderr, one per line. Everything that goes
 * into one is escaped here, so a prompt or a client message with a newline, `%`, `:` or `,`
 * can neither end the command early nor forge another one.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** True inside a GitHub Actions job (the runner sets `GITHUB_ACTIONS=true` for every step). */
export function isGithubActions(env: Env): boolean {
  return env['GITHUB_ACTIONS'] === 'true';
}

/** Escapes a command's message: `%`, CR and LF (the runner unescapes them). */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a property value: as {@link escapeData}, plus `:` and `,`, which end a property. */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * Text for the log that must stay text under GitHub Actions. The runner breaks lines at a lone
 * CR as well as at LF, reads a line that starts with `::` as a command, and finds the legacy
 * `##[command]` form anywhere in a line (`##[stop-commands]` would silence every later
 * annotation). So CRs become line breaks, such lines get a `> ` prefix, and `##[` becomes `## [`.
 */
export function plainLogText(text: string): string {
  return text
    .split(/\r\n|\r|\n/)
    .map((line) => {
      const defused = line.replace(LEGACY_COMMAND, '## [');
      // The runner trims .NET's whitespace (NEL included) before `::`: any leading space,
      // control or invisible format character counts.
      return COMMAND_START.test(defused) ? `> ${defused}` : defused;
    })
    .join('\n');
}

const COMMAND_START = /^[\p{White_Space}\p{Cc}\p{Cf}]*::/u;

/**
 * NDJSON for the log under GitHub Actions: `##[` inside a JSON string is written `##\u005b`, the
 * same JSON value (JSON.stringify already escapes CR and LF, and a line starts with `{`).
 */
export function plainLogJson(text: string): string {
  return text.replace(LEGACY_COMMAND, (m) => `${m.slice(0, -1)}\\u005b`);
}

/** `##[`, also with invisible format characters (a soft hyphen) between, which ICU's search skips. */
const LEGACY_COMMAND = /#\p{Cf}*#\p{Cf}*\[/gu;

/**
 * A sink whose text cannot hold workflow commands when the job runs under GitHub Actions (the
 * plain and JSON reporters, the run summary); elsewhere the sink itself.
 */
export function actionsSafeSink(sink: TextSink, env: Env, kind: 'text' | 'ndjson' = 'text'): TextSink {
  if (!isGithubActions(env)) return sink;
  const clean = kind === 'ndjson' ? plainLogJson : plainLogText;
  return {
    write: (text: string) => sink.write(clean(text)),
    ...(sink.isTTY !== undefined && { isTTY: sink.isTTY }),
    ...(sink.columns !== undefined && { columns: sink.columns }),
  };
}

/** Where an annotation points. Lines and columns are 1-based; `endColumn` is inclusive. */
export interface AnnotationProperties {
  readonly file?: string;
  readonly line?: number;
  readonly col?: number;
  readonly endLine?: number;
  readonly endColumn?: number;
  readonly title?: string;
}

export type AnnotationLevel = 'error' | 'warning' | 'notice';

/** One `::error …::message` line (without the line break). Properties keep GitHub's documented order. */
export function annotation(
  level: AnnotationLevel,
  message: string,
  properties: AnnotationProperties = {},
): string {
  const props: string[] = [];
  for (const key of ['file', 'line', 'col', 'endLine', 'endColumn', 'title'] as const) {
    const value = properties[key];
    if (value !== undefined && value !== '') props.push(`${key}=${escapeProperty(String(value))}`);
  }
  return `::${level}${props.length > 0 ? ` ${props.join(',')}` : ''}::${escapeData(message)}`;
}

/** `::group::title`: the lines up to `::endgroup::` fold under it in the log. */
export function groupStart(title: string): string {
  // The runner writes the title to the log as `##[group]<title>`, unescaped: a line break in it
  // (service text, say) would start a log line of its own, and `##[endgroup]` or `##[error]`
  // there would close the group or show as an error. One line, with `##[` defused.
  const line = title.replace(/[\r\n]+/g, ' ').replace(LEGACY_COMMAND, '## [');
  return `::group::${escapeData(line)}`;
}

export const GROUP_END = '::endgroup::';

/**
 * `::add-mask::` lines for a secret: the runner then prints `***` wherever the value appears
 * in later log lines, including a child process's. A value spanning lines is masked line by
 * line (the runner masks one line at a time); very short values are not masked (they would
 * blank out ordinary text, and the runner ignores them anyway).
 */
export function addMask(secret: string | undefined): string[] {
  if (secret === undefined) return [];
  return secret
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length >= 4)
    .map((s) => `::add-mask::${escapeData(s)}`);
}

/**
 * A file path as GitHub resolves annotations: relative to the repository checkout
 * (`GITHUB_WORKSPACE`), with `/`. A path outside the checkout stays absolute (GitHub then
 * shows the annotation without a file link).
 */
export function annotationPath(file: string, context: { readonly cwd: string; readonly env: Env }): string {
  const absolute = resolve(context.cwd, file);
  const base = context.env['GITHUB_WORKSPACE'] || context.cwd;
  const rel = relative(base, absolute);
  const chosen = rel === '' || rel.startsWith('..') || isAbsolute(rel) ? absolute : rel;
  return chosen.split(sep).join('/');
}

/** The annotation properties of a place in a recipe. */
export function locationProperties(
  location: DiagnosticLocation,
  context: { readonly cwd: string; readonly env: Env },
): AnnotationProperties {
  const file = annotationPath(location.file.path, context);
  const range = location.range;
  if (!range) return { file };
  const start = location.file.position(range.start);
  const end = location.file.position(Math.max(range.start, range.end));
  // SourceRange ends are exclusive; GitHub's endColumn is the last column marked.
  const sameLine = end.line === start.line;
  return {
    file,
    line: start.line,
    col: start.column,
    endLine: end.line,
    ...(sameLine && { endColumn: Math.max(start.column, end.column - 1) }),
  };
}

/**
 * A recipe diagnostic as one annotation on the recipe's line: `::error file=…,line=…,col=…,
 * endLine=…,endColumn=…,title=faceswap-pipe (code)::message`. Related places (the other half
 * of a duplicate, each step of a cycle) follow in the message as `note:` lines, since an
 * annotation has one location.
 */
export function diagnosticAnnotation(
  d: Diagnostic,
  context: { readonly cwd: string; readonly env: Env },
): string {
  const related = d.related ?? [];
  const hidden = moreNotes(related.length);
  const notes =
    related
      .slice(0, MAX_NOTES)
      .map((r) => `\nnote: ${where(r)}: ${r.message}`)
      .join('') + (hidden ? `\nnote: ${hidden}` : '');
  return annotation(d.severity, `${d.message}${notes}`, {
    ...(d.location && locationProperties(d.location, context)),
    title: `faceswap-pipe (${d.code})`,
  });
}
