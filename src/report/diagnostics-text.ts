import type { Diagnostic, DiagnosticLocation } from '../recipe/diagnostic.js';
import type { SourceFile } from '../recipe/source.js';

export interface TextStyle {
  /** ANSI colours (TTY without NO_COLOR). */
  readonly color: boolean;
}

const ANSI = {
  red: '\u001b[31m',
  yellow: '\u001b[33m',
  cyan: '\u001b[36m',
  bold: '\u001b[1m',
  reset: '\u001b[0m',
};

/**
 * A diagnostic as a compiler prints it:
 *
 *     campaign.yaml:14:7: error: unknown key "retires" in stage "face"; did you mean "retries"?
 *        14 |     retires: 2
 *           |     ~~~~~~~
 *
 * followed by each related place (`note:`) with its own excerpt.
 */
export function renderDiagnostic(d: Diagnostic, style: TextStyle = { color: false }): string {
  const paint = (code: string, text: string) => (style.color ? `${code}${text}${ANSI.reset}` : text);
  const label =
    d.severity === 'error' ? paint(ANSI.red + ANSI.bold, 'error') : paint(ANSI.yellow + ANSI.bold, 'warning');
  let out = `${where(d.location)}: ${label}: ${d.message}\n`;
  if (d.location) out += excerpt(d.location, style);
  const related = d.related ?? [];
  for (const note of related.slice(0, MAX_NOTES)) {
    out += `${where(note)}: ${paint(ANSI.cyan, 'note')}: ${note.message}\n`;
    out += excerpt(note, style);
  }
  const hidden = moreNotes(related.length);
  if (hidden) out += `${where({ file: related[MAX_NOTES]!.file })}: ${paint(ANSI.cyan, 'note')}: ${hidden}\n`;
  return out;
}

/**
 * Related places shown per diagnostic. A missing consent block in a 20,000-stage recipe noted
 * every face-swap stage, each with its excerpt: 60,000 lines for one error.
 */
export const MAX_NOTES = 10;

/** The line that stands for the places past {@link MAX_NOTES}, or undefined when all are shown. */
export function moreNotes(count: number): string | undefined {
  const hidden = count - MAX_NOTES;
  if (hidden <= 0) return undefined;
  return `and ${hidden} more place${hidden === 1 ? '' : 's'} like these (\`faceswap-pipe validate --format json\` lists every one)`;
}

/** `file:line:col`, `file` when only the file is known, the program name when neither is. */
export function where(location: DiagnosticLocation | undefined): string {
  if (!location) return 'faceswap-pipe';
  if (!location.range) return location.file.path;
  const { line, column } = location.file.position(location.range.start);
  return `${location.file.path}:${line}:${column}`;
}

/** Characters of a source line shown at most, and how many of them precede the problem. */
const MAX_EXCERPT = 120;
const CONTEXT_BEFORE = 40;

function excerpt(location: DiagnosticLocation, style: TextStyle): string {
  const range = location.range;
  if (!range || location.file.text.length === 0) return '';
  const file: SourceFile = location.file;
  const start = file.position(range.start);
  const end = file.position(Math.max(range.start, range.end));
  const line = file.lineBounds(start.line);
  const length = line.end - line.start;
  const lastColumn = end.line === start.line ? end.column : length + 1;
  // A very long line (minified YAML, a huge scalar) is cut to a window around the problem. Only
  // the window is read: copying and cleaning the whole line for each of 20,000 problems on one
  // 500 KB line made the text output quadratic.
  const from =
    length > MAX_EXCERPT ? Math.max(0, Math.min(start.column - 1 - CONTEXT_BEFORE, length - MAX_EXCERPT)) : 0;
  const to = Math.min(length, from + MAX_EXCERPT);
  // Control characters (a binary file, a stray NUL) would garble the terminal; show each as one
  // replacement character (one code unit for one) so the columns below still line up.
  const shown = file.text.slice(line.start + from, line.start + to).replace(/[^\P{Cc}\t]/gu, '\ufffd');
  const text = `${from > 0 ? '…' : ''}${shown}${to < length ? '…' : ''}`;
  const column = start.column - from + (from > 0 ? 1 : 0);
  const width = Math.max(1, Math.min(lastColumn, to + 1) - start.column);
  const gutter = String(start.line).length;
  // Keep tabs in the padding so the marks line up under tab-indented text, and count the
  // columns a terminal gives each character (two for CJK, none for a combining mark).
  const pad = [...text.slice(0, column - 1)]
    .map((c) => (c === '\t' ? '\t' : ' '.repeat(cellWidth(c))))
    .join('');
  const marked = text.slice(column - 1, column - 1 + Math.min(width, Math.max(1, text.length - column + 1)));
  const marks = '~'.repeat(
    Math.max(
      1,
      [...marked].reduce((n, c) => n + cellWidth(c), 0),
    ),
  );
  const underline = style.color ? `${ANSI.red}${marks}${ANSI.reset}` : marks;
  return `${' '.repeat(3)}${start.line} | ${text}\n${' '.repeat(3 + gutter)} | ${pad}${underline}\n`;
}

/** Terminal columns of one character: 2 for East Asian wide and fullwidth ones, 0 for marks. */
function cellWidth(c: string): number {
  const cp = c.codePointAt(0)!;
  // Most excerpts are ASCII (and there are 120 characters in each of thousands of them).
  if (cp < 0x300) return 1;
  if (/\p{Mn}|\p{Me}|\u200B|\u200D/u.test(c)) return 0;
  return (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
    ? 2
    : 1;
}

/** `2 errors, 1 warning` (empty when there are none). */
export function countSummary(diagnostics: readonly Diagnostic[]): string {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  const parts: string[] = [];
  if (errors > 0) parts.push(`${errors} error${errors === 1 ? '' : 's'}`);
  if (warnings > 0) parts.push(`${warnings} warning${warnings === 1 ? '' : 's'}`);
  return parts.join(', ');
}
