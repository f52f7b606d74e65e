import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  fstatSync,
  openSync,
  readFileSync,
  statSync,
  type Stats,
} from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ModelInfo } from '../catalog/model.js';
import type { Recipe, StageSpec } from '../recipe/types.js';
import { writeFileAtomic, writeFileAtomicSync } from '../state/atomic.js';
import { writeProblemOf } from '../util/write-problem.js';
import { fileDigest } from '../state/local-digest.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../util/json.js';
import { coverageOf, readConsent, type ConsentRecord, type Coverage } from './consent.js';
import type { MediaFormat } from './labels/embed.js';
import type { Redactor } from './redact.js';
import { resolvedSentValues } from './sent-values.js';
import { recordableUrl } from './url-policy.js';

/**
 * Disclosure and provenance: every output file of a successful stage gets
 * `<file>.provenance.json` beside it, and the label in its own metadata where the format
 * allows; the run's `manifest.json` lists them all. The executor calls
 * {@link ProvenanceWriter.beforeRecord} when a stage's jobs have all succeeded, before the
 * stage is recorded and its dependents start; a record that cannot be written fails the stage.
 */
export const PROVENANCE_VERSION = 1;
export const MANIFEST_VERSION = 1;
export const PROVENANCE_SUFFIX = '.provenance.json';

/** Provenance records read by {@link outputState}, by file path, for the run's adoption of them. */
const checked = new Map<string, { readonly stat: string; readonly record: JsonObject }>();

/**
 * What a finished job's output file is now: `intact` (there, and its provenance record still
 * describes it), `unrecorded` (there, but its provenance record is gone: a run killed before its
 * stage was recorded, or one removed), `altered` (replaced or edited since its record was
 * written) or `missing`. An altered or missing file is fetched again from its job, never labelled
 * and recorded as if it were the job's (it could carry a face no consent covers into a later
 * stage); an unrecorded one is fetched again while that is free, and otherwise recorded as it
 * is: a file that is there is never a reason to pay for its job again.
 */
export type OutputState = 'intact' | 'unrecorded' | 'altered' | 'missing';

export function outputState(path: string): OutputState {
  let info: Stats;
  try {
    info = statSync(path);
  } catch {
    return 'missing';
  }
  let recorded: RecordFile;
  try {
    recorded = readRecordFile(path);
  } catch {
    return 'unrecorded';
  }
  const { record } = recorded;
  if (!isJsonObject(record) || !describes(record, path, info, recorded.writtenMs)) return 'altered';
  checked.set(path, { stat: statKey(info), record });
  return 'intact';
}

/** A provenance record as read from disk, and when it was written. */
interface RecordFile {
  readonly record: unknown;
  readonly writtenMs: number;
}

/**
 * Reads `<path>.provenance.json` and its modification time through one open file (a cached
 * re-run reads one per output: a second lookup of the path by name cost as much again).
 * Throws when it cannot be read; `record` is whatever JSON it holds.
 */
function readRecordFile(path: string): RecordFile {
  const fd = openSync(`${path}${PROVENANCE_SUFFIX}`, 'r');
  try {
    const writtenMs = fstatSync(fd).mtimeMs;
    return { record: JSON.parse(readFileSync(fd, 'utf8')) as unknown, writtenMs };
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether a provenance record still describes the file beside it. Its size must match; a file
 * modified after its record was written (an edit in place, or another file of the same size
 * copied over it) must also still have the recorded sha256. An untouched file is not read: a
 * cached re-run of 200 stages hashes nothing.
 */
function describes(record: JsonObject, path: string, info: Stats, writtenMs: number): boolean {
  if (record['bytes'] !== info.size) return false;
  return info.mtimeMs <= writtenMs || fileDigest(path, info) === record['sha256'];
}

function statKey(info: Stats): string {
  return `${info.size}\0${info.mtimeMs}\0${info.ino}`;
}

/** One file's provenance record, `<file>.provenance.json`. */
export interface ProvenanceRecord {
  readonly provenanceVersion: typeof PROVENANCE_VERSION;
  /** The file's name (the record sits beside it). */
  readonly file: string;
  /** sha256 of the file as it is now, after the label went in. */
  readonly sha256: string;
  /** sha256 of the file as the model delivered it, before the label went in. */
  readonly downloadedSha256: string;
  readonly bytes: number;
  readonly format: MediaFormat;
  readonly createdAt: string;
  readonly generator: { readonly name: 'faceswap-pipe'; readonly version: string };
  readonly runId: string | null;
  readonly recipe: { readonly name: string; readonly file: string; readonly sha256: string };
  readonly stage: string;
  readonly model: string;
  readonly backend: string;
  /** The stage swaps faces, so the label and the consent references below are required. */
  readonly faceSwap: boolean;
  /** The job(s) that made the file. */
  readonly requestIds: readonly string[];
  readonly disclosure: {
    readonly label: string | null;
    /** How the label is in the file itself; empty: in this record only (see `warnings`). */
    readonly embedded: readonly string[];
  };
  /** The people whose faces the stage used, with their release references. */
  readonly subjects: readonly {
    readonly id: string;
    readonly release: string | null;
    readonly expires: string | null;
    readonly scope: readonly string[];
  }[];
  /** Every URL or file the job sent to the model, and what allowed it (query strings dropped). */
  readonly inputs: readonly {
    readonly field: string;
    readonly value: string;
    readonly identity: boolean;
    readonly coverage: Coverage;
  }[];
  readonly warnings: readonly string[];
}

export interface ManifestEntry {
  /** Relative to the recipe's output folder, `/`-separated. */
  readonly file: string;
  readonly provenance: string;
  readonly sha256: string;
  readonly stage: string;
  readonly model: string;
  readonly requestIds: readonly string[];
  readonly labelEmbedded: readonly string[];
}

/** `manifest.json` in the run folder, next to run.json. */
export interface Manifest {
  readonly manifestVersion: typeof MANIFEST_VERSION;
  readonly runId: string | null;
  readonly recipe: { readonly name: string; readonly file: string; readonly sha256: string };
  readonly generator: { readonly name: 'faceswap-pipe'; readonly version: string };
  readonly disclosure: { readonly label: string | null };
  /** The recipe's output folder relative to the run folder (`../..`): where `outputs[].file` starts. */
  readonly outputsDir: string;
  readonly updatedAt: string;
  /** Sorted by file. */
  readonly outputs: readonly ManifestEntry[];
}

/** A finished stage, as the executor's `beforeRecord` hook gives it (`FinishedStage`). */
export interface ProvenanceStage {
  readonly spec: StageSpec;
  readonly model: ModelInfo;
  /** One body, or the list of bodies of a fan-out stage, in job order. */
  readonly input: JsonValue;
  readonly outputs?: JsonValue;
  /** Relative to the recipe's output folder. */
  readonly files: readonly string[];
  /** One per job, in job order. */
  readonly requestIds: readonly string[];
  /** Served from the cache: the files were recorded (and labelled) by the run that made them. */
  readonly cached?: boolean;
}

export type HookResult = { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface ProvenanceContext {
  readonly recipe: Pick<Recipe, 'name' | 'hash' | 'consent'>;
  /** The recipe path as the user gave it. */
  readonly recipeFile: string;
  /** The recipe's folder (local paths and globs are relative to it). */
  readonly recipeDir: string;
  /** `outputs/<recipe name>`: the folder stage files are relative to. */
  readonly outDir: string;
  /** The run's folder; when given, `manifest.json` is rewritten there after every stage. */
  readonly runDir?: string;
  readonly runId?: string;
  readonly version: string;
  /** For ffmpeg (PATH). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly redact?: Redactor;
  readonly now?: () => Date;
}

export function createProvenanceHook(ctx: ProvenanceContext): ProvenanceWriter {
  return new ProvenanceWriter(ctx);
}

export class ProvenanceWriter {
  readonly #ctx: ProvenanceContext;
  readonly #consent: ConsentRecord | undefined;
  readonly #entries = new Map<string, ManifestEntry>();
  /** The record of every file recorded or adopted so far, by the file's absolute path. */
  readonly #records = new Map<string, ProvenanceRecord>();
  /** Strings the finished stages produced (outputs and files), with the stage that made each. */
  readonly #produced = new Map<string, string>();
  #manifestWrites: Promise<unknown> = Promise.resolve();

  constructor(ctx: ProvenanceContext) {
    this.#ctx = ctx;
    this.#consent = readConsent(ctx.recipe.consent);
  }

  /** The executor's `beforeRecord` hook (bound, so it can be passed as is). */
  readonly beforeRecord = async (stage: ProvenanceStage): Promise<HookResult> => {
    try {
      // A cached file keeps the record the run that made it wrote, and this run's manifest
      // lists it too (so `verify <run>/manifest.json` checks every file the run delivered). A
      // file whose record is gone, or no longer matches it, is recorded again.
      for (const file of stage.files) {
        // A file another stage's job made (two stages sent the very same request, and share
        // it): that stage labels and records it; this one only lists it, when it is recorded.
        if (this.#foreign(stage, file)) this.#listForeign(stage, file);
        else if (!(stage.cached && this.#adopt(stage, file))) await this.#recordFile(stage, file);
      }
    } catch (cause) {
      // A file of ours the machine refuses (a full disk) is the run's problem, not this stage's.
      if (writeProblemOf(cause)) throw cause;
      return { ok: false, message: `cannot write the provenance record: ${(cause as Error).message}` };
    }
    this.#remember(stage);
    // Cached stages join the manifest written at the end, not one write each.
    if (this.#ctx.runDir !== undefined && stage.cached !== true) {
      try {
        await this.writeManifest();
      } catch (cause) {
        if (writeProblemOf(cause)) throw cause;
        return { ok: false, message: `cannot write manifest.json: ${(cause as Error).message}` };
      }
    }
    return { ok: true };
  };

  /**
   * The records this run wrote or found valid, by absolute file path: the contact sheet shows
   * them without reading every `<file>.provenance.json` back.
   */
  records(): ReadonlyMap<string, ProvenanceRecord> {
    return this.#records;
  }

  /** Every file recorded so far, sorted by path. */
  entries(): ManifestEntry[] {
    return [...this.#entries.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }

  manifest(): Manifest {
    const runDir = this.#ctx.runDir;
    return {
      manifestVersion: MANIFEST_VERSION,
      runId: this.#ctx.runId ?? null,
      recipe: this.#recipeRef(),
      generator: { name: 'faceswap-pipe', version: this.#ctx.version },
      disclosure: { label: this.#consent?.label ?? null },
      outputsDir: runDir === undefined ? '.' : toSlashes(relative(runDir, this.#ctx.outDir)) || '.',
      updatedAt: this.#now().toISOString(),
      outputs: this.entries(),
    };
  }

  /** Writes `manifest.json` into the run folder (atomically; writes are serialised). */
  async writeManifest(runDir: string | undefined = this.#ctx.runDir): Promise<string | undefined> {
    if (runDir === undefined) return undefined;
    const manifest = this.manifest();
    const write = this.#manifestWrites.then(() => writeManifest(runDir, manifest, this.#ctx.redact));
    this.#manifestWrites = write.catch(() => undefined);
    return write;
  }

  /**
   * The manifest once every stage is done: after the writes in flight, synchronously (as the
   * run record's last write; see writeFileAtomicSync).
   */
  async finishManifest(): Promise<string | undefined> {
    const runDir = this.#ctx.runDir;
    if (runDir === undefined) return undefined;
    await this.#manifestWrites;
    const path = join(runDir, 'manifest.json');
    writeFileAtomicSync(path, manifestText(this.manifest(), this.#ctx.redact));
    return path;
  }

  #now(): Date {
    return this.#ctx.now?.() ?? new Date();
  }

  #recipeRef(): Manifest['recipe'] {
    return { name: this.#ctx.recipe.name, file: this.#ctx.recipeFile, sha256: this.#ctx.recipe.hash };
  }

  #remember(stage: ProvenanceStage): void {
    const visit = (value: JsonValue | undefined): void => {
      if (typeof value === 'string') this.#produced.set(value, stage.spec.id);
      else if (Array.isArray(value)) value.forEach(visit);
      else if (isJsonObject(value)) Object.values(value).forEach(visit);
    };
    visit(stage.outputs);
    stage.files.forEach((f) => this.#produced.set(f, stage.spec.id));
  }

  /**
   * Lists a cached file from its existing record; false when there is no usable record. The
   * record's hash is trusted when the file's size matches and it was not modified since the
   * record was written (hashing every cached output again would cost a re-run more than
   * everything else; `verify` checks hashes).
   */
  #adopt(stage: ProvenanceStage, file: string): boolean {
    const path = isAbsolute(file) ? file : join(this.#ctx.outDir, file);
    const listed = toSlashes(isAbsolute(file) ? relative(this.#ctx.outDir, file) : file);
    const seen = checked.get(path);
    checked.delete(path);
    let record: JsonObject;
    try {
      const info = statSync(path);
      // Read and checked moments ago by the cache's check when the file is still the same.
      if (seen?.stat === statKey(info)) record = seen.record;
      else {
        const { record: read, writtenMs } = readRecordFile(path);
        if (!isJsonObject(read) || !describes(read, path, info, writtenMs)) return false;
        record = read;
      }
    } catch {
      return false;
    }
    const {
      sha256,
      stage: recordedStage,
      requestIds,
      disclosure,
      subjects,
    } = record as Partial<ProvenanceRecord>;
    // The label and the consent references must still be what the recipe says; if the
    // recipe's consent changed since, the file is labelled and recorded again.
    if (
      record['provenanceVersion'] !== PROVENANCE_VERSION ||
      typeof sha256 !== 'string' ||
      recordedStage !== stage.spec.id ||
      !Array.isArray(requestIds) ||
      !Array.isArray(disclosure?.embedded) ||
      disclosure.label !== (this.#consent?.label ?? null) ||
      JSON.stringify(subjects) !== JSON.stringify(this.#subjects(stage))
    )
      return false;
    this.#list(path, listed, record as unknown as ProvenanceRecord, stage);
    return true;
  }

  /** Whether a stage's file lies in another stage's folder (`<stage>/<request id>/…`). */
  #foreign(stage: ProvenanceStage, file: string): boolean {
    const listed = toSlashes(isAbsolute(file) ? relative(this.#ctx.outDir, file) : file);
    return !listed.startsWith('../') && listed.split('/')[0] !== stage.spec.id;
  }

  #listForeign(stage: ProvenanceStage, file: string): void {
    const path = isAbsolute(file) ? file : join(this.#ctx.outDir, file);
    try {
      const { record, writtenMs } = readRecordFile(path);
      if (!isJsonObject(record) || !describes(record, path, statSync(path), writtenMs)) return;
      const listed = toSlashes(isAbsolute(file) ? relative(this.#ctx.outDir, file) : file);
      this.#list(path, listed, record as unknown as ProvenanceRecord, stage);
    } catch {
      // Not recorded yet: the stage that made it lists it when it records it.
    }
  }

  /** Keeps a file's record for the contact sheet and lists the file in the manifest. */
  #list(path: string, listed: string, record: ProvenanceRecord, stage: ProvenanceStage): void {
    this.#records.set(resolve(path), record);
    this.#entries.set(listed, {
      file: listed,
      provenance: `${listed}${PROVENANCE_SUFFIX}`,
      sha256: record.sha256,
      stage: stage.spec.id,
      model: stage.model.id,
      requestIds: record.requestIds,
      labelEmbedded: record.disclosure.embedded,
    });
  }

  /** The people whose faces the stage used, as the recipe's consent now records them. */
  #subjects(stage: ProvenanceStage): ProvenanceRecord['subjects'] {
    return stage.spec.subjects.map((id) => {
      const subject = this.#consent?.subjects.get(id);
      return {
        id,
        release: subject?.release ?? null,
        expires: subject?.expires ?? null,
        scope: [...(subject?.scope ?? [])],
      };
    });
  }

  async #recordFile(stage: ProvenanceStage, file: string): Promise<void> {
    const ctx = this.#ctx;
    const path = isAbsolute(file) ? file : join(ctx.outDir, file);
    const listed = toSlashes(isAbsolute(file) ? relative(ctx.outDir, file) : file);
    const previous = await readRecord(path);
    const job = jobOf(stage, file);
    const requestIds = job === undefined ? [...stage.requestIds] : [stage.requestIds[job]!];
    const bodies: readonly JsonValue[] | undefined = Array.isArray(stage.input)
      ? (stage.input as readonly JsonValue[])
      : undefined;
    const body: JsonValue = bodies ? (job === undefined ? null : (bodies[job] ?? null)) : stage.input;
    const faceSwap = stage.model.faceSwap || stage.spec.swap !== undefined;
    const label = this.#consent?.label ?? null;
    const warnings: string[] = [];
    const current = await sha256File(path);
    // A stage recorded again (a resumed or cached run) keeps what the first record knew.
    const earlier = previous?.sha256 === current ? previous : undefined;
    const downloadedSha256 = earlier?.downloadedSha256 ?? current;
    let embedded: readonly string[] = [];
    let format: MediaFormat = 'other';
    if (label !== null) {
      // The label writers are loaded with the first file to label: a cached re-run has none.
      const { embedLabel } = await import('./labels/embed.js');
      const outcome = await embedLabel(
        path,
        {
          label,
          generator: `faceswap-pipe ${ctx.version}`,
          recipe: ctx.recipe.name,
          stage: stage.spec.id,
          record: `${basename(file)}${PROVENANCE_SUFFIX}`,
        },
        ctx.env,
      );
      embedded = outcome.methods;
      format = outcome.format;
      if (outcome.warning) warnings.push(outcome.warning);
    } else {
      warnings.push('the recipe has no consent.disclosure.label, so no label was written');
    }
    const sha256 = await sha256File(path);
    const record: ProvenanceRecord = {
      provenanceVersion: PROVENANCE_VERSION,
      file: basename(file),
      sha256,
      downloadedSha256,
      bytes: (await stat(path)).size,
      format,
      createdAt: earlier?.createdAt ?? this.#now().toISOString(),
      generator: { name: 'faceswap-pipe', version: ctx.version },
      runId: ctx.runId ?? null,
      recipe: this.#recipeRef(),
      stage: stage.spec.id,
      model: stage.model.id,
      backend: stage.model.backend,
      faceSwap,
      requestIds,
      disclosure: { label, embedded },
      subjects: this.#subjects(stage),
      inputs: body === null ? [] : this.#inputs(stage, body, job),
      warnings,
    };
    const text = `${JSON.stringify(record, null, 2)}\n`;
    await writeFileAtomic(`${path}${PROVENANCE_SUFFIX}`, ctx.redact ? ctx.redact(text) : text);
    this.#list(path, listed, record, stage);
  }

  #inputs(stage: ProvenanceStage, body: JsonValue, job: number | undefined): ProvenanceRecord['inputs'] {
    const item = Array.isArray(stage.input) ? job : undefined;
    return resolvedSentValues(stage.spec, stage.model, body, item)
      .filter((v) => v.media)
      .map((v) => {
        const producer = this.#produced.get(v.value);
        const coverage: Coverage =
          producer !== undefined
            ? { kind: 'upstream', stages: [producer] }
            : v.origin.kind === 'upstream'
              ? { kind: 'upstream', stages: v.origin.stages }
              : this.#consent
                ? coverageOf(this.#consent, v.value, stage.spec.subjects, this.#ctx.recipeDir)
                : { kind: 'none' };
        return {
          field: fieldText(v.field),
          value: recordableUrl(v.value),
          identity: v.identity,
          coverage,
        };
      });
  }
}

async function readRecord(path: string): Promise<ProvenanceRecord | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(`${path}${PROVENANCE_SUFFIX}`, 'utf8'));
    return isJsonObject(parsed) && parsed['provenanceVersion'] === PROVENANCE_VERSION
      ? (parsed as unknown as ProvenanceRecord)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `manifest.json` into a run folder; returns its path. */
export async function writeManifest(runDir: string, manifest: Manifest, redact?: Redactor): Promise<string> {
  const path = join(runDir, 'manifest.json');
  await writeFileAtomic(path, manifestText(manifest, redact));
  return path;
}

function manifestText(manifest: Manifest, redact?: Redactor): string {
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  return redact ? redact(text) : text;
}

/** The index of the job that made `file` (its request id is a folder in its path), if one can tell. */
function jobOf(stage: ProvenanceStage, file: string): number | undefined {
  const segments = file.split(/[\\/]/);
  const index = stage.requestIds.findIndex((id) => segments.includes(id));
  if (index >= 0) return index;
  return stage.requestIds.length === 1 ? 0 : undefined;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function fieldText(field: readonly (string | number)[]): string {
  let out = '';
  for (const s of field) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}

function toSlashes(path: string): string {
  return path.split(sep).join('/');
}
