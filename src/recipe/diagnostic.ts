import type { SourceFile, SourceRange } from './source.js';

/**
 * What a diagnostic means for the exit code. Several problems of several kinds can be
 * reported at once; {@link exitCategory} picks the one that decides the exit status.
 * - `invalid`: the recipe or its data is wrong (65).
 * - `missing-file`: a named file does not exist or is not a file (66).
 * - `not-permitted`: consent or policy refuses the work (77).
 * - `usage`: the command line is wrong (64).
 */
export type DiagnosticCategory = 'invalid' | 'missing-file' | 'not-permitted' | 'usage';

export type Severity = 'error' | 'warning';

/** A place in a recipe. `range` is absent when only the file is known (e.g. it cannot be read). */
export interface DiagnosticLocation {
  readonly file: SourceFile;
  readonly range?: SourceRange;
}

/** A second place that belongs to the same problem: the other half of a duplicate, a step of a cycle. */
export interface RelatedLocation extends DiagnosticLocation {
  readonly message: string;
}

/**
 * One problem found in a recipe or on the command line. Diagnostics are values: analysis
 * collects all of them and the CLI prints them all, so a user fixes a recipe in one pass.
 */
export interface Diagnostic {
  readonly severity: Severity;
  /** Stable, kebab-case identifier, documented in docs/diagnostics.md; tools may match on it. */
  readonly code: DiagnosticCode;
  readonly category: DiagnosticCategory;
  readonly message: string;
  /** Where; absent for command-line problems that belong to no file. */
  readonly location?: DiagnosticLocation;
  readonly related?: readonly RelatedLocation[];
}

export type DiagnosticCode =
  // reading the file
  | 'file-not-found'
  | 'not-a-file'
  | 'file-too-large'
  | 'unreadable-file'
  | 'not-utf8'
  // YAML
  | 'yaml-syntax'
  | 'duplicate-key'
  | 'yaml-tag'
  | 'yaml-alias-limit'
  | 'too-deep'
  | 'not-a-mapping'
  // the recipe schema
  | 'unsupported-version'
  | 'missing-key'
  | 'unknown-key'
  | 'invalid-type'
  | 'invalid-value'
  // stages and models
  | 'model-or-swap'
  | 'unknown-model'
  | 'model-input'
  | 'unknown-model-field'
  // `swap:` stages and the router
  | 'swap-incomplete'
  | 'swap-unservable'
  | 'swap-unknown-medium'
  | 'swap-wrong-medium'
  | 'swap-pinned-model'
  | 'swap-no-local-route'
  | 'swap-unused-field'
  // expressions and references
  | 'expression-syntax'
  | 'unknown-context'
  | 'unknown-var'
  | 'unknown-stage'
  | 'unknown-output'
  | 'self-reference'
  | 'dependency-cycle'
  | 'unknown-set'
  | 'invalid-set'
  | 'stage-output-mismatch'
  | 'media-kind-mismatch'
  // the trust boundary (src/policy/url-policy.ts): invalid data, 65
  | 'url-not-https'
  | 'url-credentials'
  | 'url-private-host'
  | 'url-invalid'
  | 'local-file-hosted'
  | 'path-outside-recipe'
  | 'local-file-missing'
  // consent and the prompt screen (docs/consent.md): not permitted, 77
  | 'consent-missing'
  | 'disclosure-missing'
  | 'release-missing'
  | 'rights-missing'
  | 'subjects-missing'
  | 'unknown-subject'
  | 'release-expired'
  | 'asset-not-covered'
  | 'identity-not-subject'
  | 'prompt-refused'
  // reserved for later features that recipes may already name
  | 'not-yet-supported';

export function error(
  code: DiagnosticCode,
  message: string,
  location?: DiagnosticLocation,
  related?: readonly RelatedLocation[],
  category: DiagnosticCategory = 'invalid',
): Diagnostic {
  return {
    severity: 'error',
    code,
    category,
    message,
    ...(location && { location }),
    ...(related && { related }),
  };
}

export function warning(code: DiagnosticCode, message: string, location?: DiagnosticLocation): Diagnostic {
  return { severity: 'warning', code, category: 'invalid', message, ...(location && { location }) };
}

/**
 * The category that decides the exit code: an invalid recipe wins over everything (the user
 * must fix it first), then missing files, then refusals. Warnings never fail a command.
 */
export function exitCategory(diagnostics: readonly Diagnostic[]): DiagnosticCategory | undefined {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  for (const category of ['usage', 'invalid', 'missing-file', 'not-permitted'] as const) {
    if (errors.some((d) => d.category === category)) return category;
  }
  return undefined;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

/** Sorts by file, then position, keeping the discovery order for ties, so output is stable. */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return diagnostics
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      const fa = a.d.location?.file.path ?? '';
      const fb = b.d.location?.file.path ?? '';
      if (fa !== fb) return fa < fb ? -1 : 1;
      const oa = a.d.location?.range?.start ?? -1;
      const ob = b.d.location?.range?.start ?? -1;
      return oa - ob || a.i - b.i;
    })
    .map(({ d }) => d);
}
