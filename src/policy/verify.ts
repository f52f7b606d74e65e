import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { isJsonObject } from '../util/json.js';
import { readEmbeddedLabel } from './labels/embed.js';
import { PROVENANCE_SUFFIX, sha256File } from './provenance.js';

/**
 * `faceswap-pipe verify`: checks an output file against its provenance record. A file passes
 * when the record beside it parses, its sha256 matches the file, it names a disclosure label
 * (required for face-swap stages), the label is in the file's own metadata wherever the record
 * says it was embedded, and a face-swap stage's record names its subjects with release
 * references and says what allowed every input it sent.
 */
export type VerifyResult =
  | {
      readonly status: 'ok';
      readonly file: string;
      readonly label: string | null;
      /** Where the label was found in the file, or why it was not looked for. */
      readonly embedded: string;
      readonly subjects: readonly string[];
    }
  | { readonly status: 'failed'; readonly file: string; readonly problems: readonly string[] }
  | { readonly status: 'missing'; readonly file: string; readonly message: string };

type Env = Readonly<Record<string, string | undefined>>;

/** Checks one file (`file` is shown as given; `path` is where it is read). */
export async function verifyFile(
  file: string,
  path: string,
  env: Env,
  checks: {
    /** What the run's manifest lists for the file (when verifying a manifest). */
    readonly expected?: { readonly sha256?: string };
    /** Models that swap faces (the catalog's): their records must read as face swaps. */
    readonly faceSwapModels?: ReadonlySet<string>;
  } = {},
): Promise<VerifyResult> {
  try {
    if (!(await stat(path)).isFile()) return { status: 'missing', file, message: `${file} is not a file` };
  } catch {
    return { status: 'missing', file, message: `no such file: ${file}` };
  }
  let record: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(await readFile(`${path}${PROVENANCE_SUFFIX}`, 'utf8'));
    if (!isJsonObject(parsed) || parsed['provenanceVersion'] !== 1)
      throw new Error('not a provenance record (version 1)');
    record = parsed;
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'there is none' : (cause as Error).message;
    return {
      status: 'failed',
      file,
      problems: [`no usable provenance record beside it (${file}${PROVENANCE_SUFFIX}: ${why})`],
    };
  }
  const problems: string[] = [];
  const actual = await sha256File(path);
  if (record['sha256'] !== actual)
    problems.push(
      `sha256 mismatch: the record says ${short(record['sha256'])}, the file is ${short(actual)}; the file was changed after it was recorded`,
    );
  // The record and the manifest are plain files beside the output: each checks the other.
  const expected = checks.expected?.sha256;
  if (expected !== undefined && expected !== actual)
    problems.push(
      `the run's manifest lists sha256 ${short(expected)}, the file is ${short(actual)}; the file (or its record) was changed after the run`,
    );
  if (typeof record['file'] === 'string' && record['file'] !== basename(path))
    problems.push(
      `the record is for "${record['file']}", not for this file (renamed, or swapped with another?)`,
    );
  const disclosure = isJsonObject(record['disclosure']) ? record['disclosure'] : {};
  const label =
    typeof disclosure['label'] === 'string' && disclosure['label'] !== '' ? disclosure['label'] : null;
  const model = typeof record['model'] === 'string' ? record['model'] : undefined;
  const swapsFaces = model !== undefined && checks.faceSwapModels?.has(model) === true;
  if (swapsFaces && record['faceSwap'] !== true)
    problems.push(`the record says its stage is no face swap, but its model ${model} swaps faces`);
  const faceSwap = record['faceSwap'] === true || swapsFaces;
  if (label === null && faceSwap) problems.push('the record has no disclosure label');
  const methods = Array.isArray(disclosure['embedded'])
    ? disclosure['embedded'].filter((m) => typeof m === 'string')
    : [];
  let embedded = 'not embedded (the record says why)';
  if (label !== null && methods.length > 0) {
    const found = await readEmbeddedLabel(path, env);
    if (found.label === null) embedded = `not checked in the file (${found.format}: ffprobe is not on PATH)`;
    else if (found.label !== label)
      problems.push(
        found.label === undefined
          ? `the label "${label}" is missing from the file's ${found.format.toUpperCase()} metadata`
          : `the file's metadata says "${found.label}", the record "${label}"`,
      );
    else embedded = `in the file's ${found.format.toUpperCase()} metadata`;
  }
  const subjects = Array.isArray(record['subjects']) ? record['subjects'].filter(isJsonObject) : [];
  if (faceSwap) {
    if (subjects.length === 0) problems.push('the record names no consent subjects');
    for (const s of subjects)
      if (typeof s['release'] !== 'string' || s['release'] === '')
        problems.push(`subject "${text(s['id'])}" has no release reference in the record`);
    const inputs = Array.isArray(record['inputs']) ? record['inputs'].filter(isJsonObject) : [];
    for (const input of inputs) {
      const coverage = isJsonObject(input['coverage']) ? input['coverage'] : {};
      if (coverage['kind'] === undefined || coverage['kind'] === 'none')
        problems.push(
          `input "${text(input['field'])}" (${text(input['value'])}) has no consent coverage in the record`,
        );
    }
  }
  if (problems.length > 0) return { status: 'failed', file, problems };
  return { status: 'ok', file, label, embedded, subjects: subjects.map((s) => text(s['id'])) };
}

/**
 * The files a path stands for: itself, the file beside a `.provenance.json` record given by
 * mistake, or every output a run's `manifest.json` lists.
 */
export async function expandVerifyTarget(
  file: string,
  cwd: string,
): Promise<{ file: string; path: string; expected?: { sha256?: string } }[]> {
  const path = resolve(cwd, file);
  if (file.endsWith(PROVENANCE_SUFFIX)) {
    const target = file.slice(0, -PROVENANCE_SUFFIX.length);
    return [{ file: target, path: resolve(cwd, target) }];
  }
  if (!file.endsWith('manifest.json')) return [{ file, path }];
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return [{ file, path }];
  }
  if (!isJsonObject(manifest) || manifest['manifestVersion'] !== 1 || !Array.isArray(manifest['outputs']))
    return [{ file, path }];
  const base = resolve(
    dirname(path),
    typeof manifest['outputsDir'] === 'string' ? manifest['outputsDir'] : '.',
  );
  return manifest['outputs'].filter(isJsonObject).flatMap((entry) => {
    if (typeof entry['file'] !== 'string') return [];
    const target = resolve(base, entry['file']);
    const sha256 = typeof entry['sha256'] === 'string' ? entry['sha256'] : undefined;
    return [{ file: relative(cwd, target) || target, path: target, expected: { ...(sha256 && { sha256 }) } }];
  });
}

/** A record's scalar as text; anything else as a short JSON rendering. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? 'nothing');
}

function short(value: unknown): string {
  return typeof value === 'string' ? `${value.slice(0, 12)}…` : 'nothing';
}
