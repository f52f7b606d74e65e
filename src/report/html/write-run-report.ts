import { readFileSync, statSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomicSync } from '../../state/atomic.js';
import { RUNS_FOLDER } from '../../state/paths.js';
import { version } from '../../version.js';
import { renderContactSheet, walkStrings, type InputRef, type PageContext, type Provenance } from './page.js';
import { downloadedFiles, readRunData, runStartFolder, type GraphNode, type RunData } from './run-data.js';
import { mediaKind, PreviewMaker, type Preview } from './thumbs.js';

export interface RunReportOptions {
  /** The exact stage graph (the plan's); without it the record's or an inferred one is used. */
  readonly graph?: readonly GraphNode[];
  /**
   * The environment, for `PATH` (ffmpeg posters). Default: this process's environment; the
   * CLI passes its `io.env`.
   */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Longest side of thumbnails in pixels. Default 320. */
  readonly thumbSize?: number;
  /** The ffmpeg executable for video posters, or null for none. Default: `ffmpeg` on PATH. */
  readonly ffmpeg?: string | null;
  /** A folder of thumbnails shared between runs (the run command uses the state folder's). */
  readonly thumbStore?: string;
  /**
   * Provenance records already in memory (the run command's, which it just wrote or checked),
   * by the file's absolute path; files not in it have theirs read from disk.
   */
  readonly provenance?: ReadonlyMap<string, unknown>;
  readonly now?: () => Date;
}

export interface RunReport {
  /** Absolute path of the written `report.html`. */
  readonly path: string;
  readonly thumbnails: { readonly made: number; readonly reused: number };
  readonly stages: number;
}

/**
 * Writes `<runDir>/report.html`, the run's contact sheet, with its thumbnails in
 * `<runDir>/thumbs/`. Reads only the run folder and the files the record names; safe to call
 * again (thumbnails of unchanged files are reused, stale ones removed).
 */
export async function writeRunReport(runDir: string, options: RunReportOptions = {}): Promise<RunReport> {
  const run = await readRunData(runDir, { ...(options.graph && { graph: options.graph }) });
  const env = options.env ?? process.env;
  const maker = new PreviewMaker(run.runDir, {
    env,
    ...(options.thumbSize !== undefined && { size: options.thumbSize }),
    ...(options.ffmpeg !== undefined && { ffmpeg: options.ffmpeg }),
    ...(options.thumbStore !== undefined && { store: options.thumbStore }),
  });
  const outputPath = (file: string) => join(run.outDir, ...file.split('/'));
  const linkFrom = hrefFromRunDir(run);
  const urlToFile = downloadedFiles(run.stages);
  const locals = localInputs(run);

  const inputRef = (value: string): InputRef => {
    const file = urlToFile.get(value);
    if (file !== undefined)
      return { kind: 'upstream', url: value, path: outputPath(file), stage: file.split('/')[0] ?? '' };
    if (/^https?:\/\//i.test(value)) return { kind: 'remote', url: value };
    const local = locals.get(value);
    return local === undefined ? { kind: 'none' } : { kind: 'local', path: local };
  };

  // Everything shown as a picture: every output file and every local input.
  const paths = new Set<string>(locals.values());
  for (const s of run.stages)
    if (s.result && s.result.status !== 'skipped') for (const f of s.result.files) paths.add(outputPath(f));
  const previews = new Map<string, Preview>();
  await Promise.all([...paths].map(async (p) => previews.set(p, await maker.preview(p))));
  const provenance = provenanceRecords([...paths], linkFrom, options.provenance);
  const runFiles = existing(run.runDir, ['manifest.json']);

  const ctx: PageContext = {
    preview: (p) => previews.get(p),
    href: linkFrom,
    outputPath,
    inputRef,
    provenance: (p) => provenance.get(p),
    runFiles,
    generatedAt: (options.now?.() ?? new Date()).toISOString(),
    version: version(),
  };
  const html = renderContactSheet(run, ctx);
  const path = join(run.runDir, 'report.html');
  // Rebuilt by every run and by `faceswap-pipe report`: atomic, but not worth a disk flush.
  // Synchronous, as the run's last writes are (see writeFileAtomicSync).
  writeFileAtomicSync(path, html, { durable: false });
  await maker.prune();
  return { path, thumbnails: { made: maker.made, reused: maker.reused }, stages: run.stages.length };
}

/**
 * The newest run folder under `<outRoot>/<recipe>/runs/`, over all recipes (folder names are
 * ISO timestamps, so they sort by time), or undefined when there is none.
 */
export async function newestRunDir(outRoot: string): Promise<string | undefined> {
  let best: { name: string; dir: string } | undefined;
  let recipes: string[];
  try {
    recipes = await readdir(outRoot);
  } catch {
    return undefined;
  }
  for (const recipe of recipes) {
    let runs: string[];
    try {
      runs = await readdir(join(outRoot, recipe, RUNS_FOLDER));
    } catch {
      continue;
    }
    for (const name of runs) {
      const dir = join(outRoot, recipe, RUNS_FOLDER, name);
      if (best && name <= best.name) continue;
      try {
        if ((await stat(join(dir, 'run.json'))).isFile()) best = { name, dir };
      } catch {
        // not a run folder
      }
    }
  }
  return best?.dir;
}

/**
 * A file as a link from the run folder (`/`-separated). Outputs live under the recipe's output
 * folder, two levels above the run folder: they are linked as `<up>/<path below it>` without a
 * path.relative per file (which resolves both paths; a 200-stage sheet links each file twice).
 */
function hrefFromRunDir(run: RunData): (absolutePath: string) => string {
  const outPrefix = run.outDir + sep;
  const runPrefix = run.runDir + sep;
  const up = relative(run.runDir, run.outDir).split(sep).join('/');
  return (p) =>
    p.startsWith(outPrefix) && !p.startsWith(runPrefix)
      ? `${up}/${p.slice(outPrefix.length).split(sep).join('/')}`
      : relative(run.runDir, p).split(sep).join('/');
}

/**
 * Input strings that name files on this machine (for the local engine's models): absolute
 * paths, `file:` URLs, or paths relative to the folder the run started in or to the recipe's
 * folder, when such a file exists and looks like media.
 */
function localInputs(run: RunData): Map<string, string> {
  const out = new Map<string, string>();
  const cwd = runStartFolder(run.outDir, run.record.options['out']);
  const bases = cwd === undefined ? [] : [cwd, dirname(resolve(cwd, run.record.recipe.file))];
  const candidates = new Set<string>();
  for (const s of run.stages) {
    if (!s.result) continue;
    walkStrings(s.result.input, [], (value) => {
      if (value.length > 4096 || /[\n\r]/.test(value) || /^https?:/i.test(value)) return;
      if (value.startsWith('file:') || mediaKind(value) !== 'other') candidates.add(value);
    });
  }
  for (const value of candidates) {
    let options: string[];
    try {
      options = value.startsWith('file:')
        ? [fileURLToPath(value)]
        : isAbsolute(value)
          ? [value]
          : bases.map((b) => resolve(b, value));
    } catch {
      continue;
    }
    for (const p of options) {
      try {
        if (statSync(p).isFile()) {
          out.set(value, p);
          break;
        }
      } catch {
        // not there
      }
    }
  }
  return out;
}

/**
 * The provenance record beside each file. Synchronous: one small file per output, and going
 * through the thread pool for each cost a cached 200-stage re-run more than reading them.
 */
function provenanceRecords(
  paths: readonly string[],
  href: (absolutePath: string) => string,
  known: ReadonlyMap<string, unknown> = new Map(),
): Map<string, Provenance> {
  const out = new Map<string, Provenance>();
  for (const p of paths) {
    const record = `${p}.provenance.json`;
    if (known.has(p)) {
      out.set(p, {
        href: href(record),
        ...provenanceFacts(known.get(p)),
      });
      continue;
    }
    let text: string;
    try {
      const info = statSync(record);
      if (!info.isFile() || info.size > 1_048_576) continue;
      text = readFileSync(record, 'utf8');
    } catch {
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    out.set(p, { href: href(record), ...provenanceFacts(json) });
  }
  return out;
}

/**
 * Subjects and the disclosure label from a provenance record. Its format belongs to the
 * consent feature; this reads it leniently: `subjects` as a list of ids or of objects with
 * `id` and `release`, or a map by id; the label as `disclosure.label`, `disclosure` or `label`.
 */
export function provenanceFacts(json: unknown): { subjects: string[]; label: string | undefined } {
  const record = objectOf(json);
  if (!record) return { subjects: [], label: undefined };
  const subjects: string[] = [];
  const describe = (id: string, value: unknown) => {
    const release = objectOf(value)?.['release'];
    subjects.push(typeof release === 'string' ? `${id} (${release})` : id);
  };
  const raw = record['subjects'];
  if (Array.isArray(raw)) {
    for (const s of raw as unknown[]) {
      const o = objectOf(s);
      const id = typeof s === 'string' ? s : (o?.['id'] ?? o?.['subject'] ?? o?.['name']);
      if (typeof id === 'string') describe(id, o);
    }
  } else {
    for (const [id, value] of Object.entries(objectOf(raw) ?? {})) describe(id, value);
  }
  const disclosure = record['disclosure'];
  const nested = objectOf(disclosure)?.['label'];
  const label =
    typeof nested === 'string'
      ? nested
      : typeof disclosure === 'string'
        ? disclosure
        : typeof record['label'] === 'string'
          ? record['label']
          : undefined;
  return { subjects, label };
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function existing(dir: string, names: readonly string[]): string[] {
  const found: string[] = [];
  for (const n of names) {
    try {
      if (statSync(join(dir, n)).isFile()) found.push(n);
    } catch {
      // absent
    }
  }
  return found;
}
