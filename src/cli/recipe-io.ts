import { Catalog, CatalogError } from '../catalog/catalog.js';
import type { Diagnostic } from '../recipe/diagnostic.js';
import { sortDiagnostics } from '../recipe/diagnostic.js';
import { toJsonDiagnostic } from '../report/diagnostics-json.js';
import { countSummary, renderDiagnostic } from '../report/diagnostics-text.js';
import { diagnosticAnnotation, isGithubActions, plainLogText } from '../report/github-commands.js';
import { ExitCode } from './exit-codes.js';
import { wantsColor, type CliIo } from './io.js';

/** Loads the catalog with the command's override folders; reports a broken one as data error. */
export function loadCatalog(io: CliIo, dirs: readonly string[]): Catalog | { exit: number } {
  const fromEnv = (io.env['FACESWAP_CATALOG'] ?? '').split(':').filter((d) => d !== '');
  try {
    return Catalog.load([...fromEnv, ...dirs], io.cwd);
  } catch (cause) {
    if (cause instanceof CatalogError) {
      io.stderr.write(`faceswap-pipe: error: ${cause.message}\n`);
      return { exit: cause.missing ? ExitCode.noInput : ExitCode.dataError };
    }
    throw cause;
  }
}

/**
 * Prints diagnostics as text on stderr (warnings included), with a count at the end. Under
 * GitHub Actions (`GITHUB_ACTIONS=true`, or `github: true` for `--reporter github`) each one is
 * also printed as an `::error`/`::warning` annotation on the recipe's line; the runner reads
 * workflow commands from stderr as from stdout, and `--format json` output on stdout stays clean.
 */
export function printDiagnostics(
  io: CliIo,
  diagnostics: readonly Diagnostic[],
  summary = true,
  options: { readonly github?: boolean } = {},
): void {
  const style = { color: wantsColor(io.stderr, io.env) };
  const sorted = sortDiagnostics(diagnostics);
  const github = options.github ?? isGithubActions(io.env);
  // The text quotes the recipe (a key, a value): under Actions it must not hold a command.
  for (const d of sorted) {
    const text = renderDiagnostic(d, style);
    io.stderr.write(github ? plainLogText(text) : text);
  }
  if (summary && diagnostics.length > 0) io.stderr.write(`${countSummary(diagnostics)}\n`);
  if (github)
    for (const d of sorted) io.stderr.write(`${diagnosticAnnotation(d, { cwd: io.cwd, env: io.env })}\n`);
}

export function printDiagnosticsJson(io: CliIo, diagnostics: readonly Diagnostic[]): void {
  io.stdout.write(JSON.stringify(sortDiagnostics(diagnostics).map(toJsonDiagnostic), null, 2) + '\n');
}
