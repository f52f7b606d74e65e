import type { Diagnostic, DiagnosticLocation } from '../recipe/diagnostic.js';

/**
 * The `--format json` shape of a diagnostic (documented in docs/diagnostics.md). Lines and
 * columns are 1-based; `endLine`/`endColumn` point just past the underlined text. Problems
 * that belong to no file position have `null` there.
 */
export interface JsonDiagnostic {
  readonly file: string | null;
  readonly line: number | null;
  readonly column: number | null;
  readonly endLine: number | null;
  readonly endColumn: number | null;
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly related: readonly (JsonPosition & { readonly message: string })[];
}

interface JsonPosition {
  readonly file: string | null;
  readonly line: number | null;
  readonly column: number | null;
  readonly endLine: number | null;
  readonly endColumn: number | null;
}

export function toJsonDiagnostic(d: Diagnostic): JsonDiagnostic {
  return {
    ...position(d.location),
    severity: d.severity,
    code: d.code,
    message: d.message,
    related: (d.related ?? []).map((r) => ({ ...position(r), message: r.message })),
  };
}

function position(location: DiagnosticLocation | undefined): JsonPosition {
  if (!location) return { file: null, line: null, column: null, endLine: null, endColumn: null };
  if (!location.range)
    return { file: location.file.path, line: null, column: null, endLine: null, endColumn: null };
  const start = location.file.position(location.range.start);
  const end = location.file.position(Math.max(location.range.end, location.range.start));
  return {
    file: location.file.path,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
  };
}
