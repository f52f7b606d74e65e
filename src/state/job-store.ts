import { readFileSync } from 'node:fs';
import type { LocalFileFacts } from './local-digest.js';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redactor } from '../policy/redact.js';
import { isJsonObject, parseClientPayload, type JsonObject } from '../util/json.js';
import { writeFileAtomic } from './atomic.js';
import { processAlive, processStartTime } from './process-alive.js';
import { makeDir } from '../util/make-dir.js';

export const JOB_RECORD_VERSION = 1;

interface RecordBase {
  readonly v: 1;
  readonly key: string;
  readonly model: string;
  /** The stage (and item) that last wrote it; informational: the key alone identifies the job. */
  readonly stage: string;
}

/**
 * What the state folder knows of one job, by key. Written atomically at each step:
 * - `submitting`: written before the submit process starts; its stdout goes to `stdoutFile`,
 *   so even if this run dies before reading the request id, the next run finds it there.
 * - `submitted`: the service accepted the job; its id is known. A later run re-attaches.
 * - `succeeded`: the job's files are downloaded and checked. A later run reuses it (cache).
 */
export type JobRecord =
  | (RecordBase & {
      readonly status: 'submitting';
      readonly since: string;
      readonly submitter: { readonly pid: number; readonly startTime?: string };
      readonly stdoutFile: string;
    })
  | (RecordBase & { readonly status: 'submitted'; readonly requestId: string; readonly submittedAt: string })
  | (RecordBase & {
      readonly status: 'succeeded';
      readonly requestId: string;
      readonly finishedAt: string;
      readonly output: JsonObject;
      /** Relative to `outRoot`. */
      readonly files: readonly string[];
      /** The run output folder the files were written under (absolute). */
      readonly outRoot: string;
      /**
       * For an offline engine job: the sha256 of each local file its body named (by the
       * string in the body), when it started. A file changed since makes the record unusable.
       */
      readonly localFiles?: Readonly<Record<string, LocalFileFacts>>;
    });

export type SucceededJob = Extract<JobRecord, { readonly status: 'succeeded' }>;

export interface JobLookup {
  readonly record?: JobRecord;
  /** Set when a record exists but cannot be used (torn, unreadable, another format): it is ignored. */
  readonly problem?: string;
}

/**
 * Job records under `<state dir>/jobs/<key>.json`. A torn or unreadable record is treated as
 * absent and reported, never a crash: the worst case is paying for a job again, never using
 * a wrong result.
 */
export class JobStore {
  readonly dir: string;
  readonly #redact: Redactor;
  /** The stdout file of each submission this process started, until its outcome is recorded. */
  readonly #pendingOutput = new Map<string, string>();
  /** Keys whose job this process submitted (not one it took over from an earlier run). */
  readonly #submittedHere = new Set<string>();

  constructor(stateDir: string, redact: Redactor) {
    this.dir = join(stateDir, 'jobs');
    this.#redact = redact;
  }

  /**
   * The record of a job key. Synchronous inside: a re-run reads one small record per stage
   * before anything else can happen, and 200 reads through the thread pool cost ~10x more.
   */
  read(key: string): Promise<JobLookup> {
    return Promise.resolve(this.readNow(key));
  }

  readNow(key: string): JobLookup {
    let text: string;
    try {
      text = readFileSync(this.#path(key), 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return {};
      return { problem: `cannot read job record ${this.#path(key)}: ${(cause as Error).message}` };
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (isValidRecord(parsed, key)) return { record: parsed };
      return {
        problem: `job record ${this.#path(key)} is not a record of this faceswap-pipe version (a field is missing or has the wrong type); it is ignored`,
      };
    } catch {
      return {
        problem: `job record ${this.#path(key)} is torn or not JSON (a crash while writing?); it is ignored`,
      };
    }
  }

  /** Records that a submission is about to start; returns the file its stdout must go to. */
  async submitting(key: string, model: string, stage: string): Promise<string> {
    // Unique per submission: two jobs with one key (identical requests of two stages) may
    // start in the same millisecond, and a shared file would mix their answers.
    const stdoutFile = join(this.dir, `${key}.submit-${process.pid}-${Date.now()}-${++submissionSeq}.out`);
    const startTime = processStartTime();
    // A submission of a killed run that was given up on (its id never came) is replaced now.
    const replaced = this.#earlierOutput(key);
    await this.#write({
      v: 1,
      key,
      model,
      stage,
      status: 'submitting',
      since: new Date().toISOString(),
      submitter: { pid: process.pid, ...(startTime !== undefined && { startTime }) },
      stdoutFile,
    });
    this.#pendingOutput.set(key, stdoutFile);
    if (replaced !== undefined) await removeOutput(replaced);
    return stdoutFile;
  }

  /** The stdout file of a `submitting` record another process left for this key, if any. */
  #earlierOutput(key: string): string | undefined {
    const { record } = this.readNow(key);
    return record?.status === 'submitting' && record.stdoutFile !== this.#pendingOutput.get(key)
      ? record.stdoutFile
      : undefined;
  }

  /** The stage labels (`face`, `face[3]`) of every finished (succeeded) record, whatever its key. */
  async finishedLabels(): Promise<Set<string>> {
    const labels = new Set<string>();
    for (const record of await this.all()) if (record.status === 'succeeded') labels.add(record.stage);
    return labels;
  }

  /** Every usable record in the folder, whatever its key (torn ones are left out). */
  async all(): Promise<JobRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const records: JobRecord[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const { record } = this.readNow(name.slice(0, -'.json'.length));
      if (record) records.push(record);
    }
    return records;
  }

  /**
   * A submission the service answered with a definite refusal (a 429, a rejected input or
   * token: no job was created): its record and stdout file go, so `status` does not show a
   * job "submitting" that does not exist.
   */
  async submitRefused(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
    await this.#dropOutput(key);
  }

  /** Removes a finished submission's stdout files: its outcome is in the record now. */
  async #dropOutput(key: string): Promise<void> {
    const file = this.#pendingOutput.get(key);
    if (file === undefined) return;
    this.#pendingOutput.delete(key);
    await removeOutput(file);
  }

  async submitted(key: string, model: string, stage: string, requestId: string): Promise<void> {
    // A finished job followed again to fetch its missing files keeps its finished record: the
    // job is done, and a fetch that fails must not leave it looking in flight.
    // A job followed again (an earlier attempt's or a killed run's) keeps its submit time.
    const { record: current } = this.readNow(key);
    if (
      (current?.status === 'succeeded' || current?.status === 'submitted') &&
      current.requestId === requestId
    )
      return;
    // A killed run's submission whose id was recovered from its stdout file (a resume): the job
    // was submitted when that run started the submit, not now.
    const recovered = this.#earlierOutput(key);
    const since = recovered !== undefined && current?.status === 'submitting' ? current.since : undefined;
    if (since === undefined) this.#submittedHere.add(key);
    await this.#write({
      v: 1,
      key,
      model,
      stage,
      status: 'submitted',
      requestId,
      submittedAt: since ?? new Date().toISOString(),
    });
    // The id is durable in the record now: the submit's stdout file has done its job.
    await this.#dropOutput(key);
    if (recovered !== undefined) await removeOutput(recovered);
  }

  async succeeded(
    key: string,
    model: string,
    stage: string,
    result: {
      requestId: string;
      output: JsonObject;
      files: readonly string[];
      outRoot: string;
      localFiles?: Readonly<Record<string, LocalFileFacts>>;
    },
  ): Promise<void> {
    const outRoot = resolve(result.outRoot);
    await this.#write({
      v: 1,
      key,
      model,
      stage,
      status: 'succeeded',
      requestId: result.requestId,
      finishedAt: this.#finishedAt(key, result.requestId),
      output: result.output,
      files: result.files.map((f) => relative(outRoot, resolve(outRoot, f))),
      outRoot,
      ...(result.localFiles &&
        Object.keys(result.localFiles).length > 0 && { localFiles: result.localFiles }),
    });
    await this.#sweepOutputs(key);
  }

  /**
   * Removes every submit stdout file (and its .err, .pid) left for a finished job: a run killed
   * between recording the request id and removing the file leaves one, and no later run needs it
   * (the id is in the record; one state folder has one run at a time).
   */
  async #sweepOutputs(key: string): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    const prefix = `${key}.submit-`;
    await Promise.all(
      names.filter((n) => n.startsWith(prefix)).map((n) => rm(join(this.dir, n), { force: true })),
    );
    this.#pendingOutput.delete(key);
  }

  /**
   * When a job's hosted outputs started their lifetime (cache.url_ttl counts from it). Files
   * fetched again keep the time the job first finished; a job an earlier (killed) run submitted
   * finished at some unknown time since: its submit time, the earliest it can have been.
   */
  #finishedAt(key: string, requestId: string): string {
    const { record } = this.readNow(key);
    if (record?.status === 'succeeded' && record.requestId === requestId) return record.finishedAt;
    if (record?.status === 'submitted' && record.requestId === requestId && !this.#submittedHere.has(key))
      return record.submittedAt;
    return new Date().toISOString();
  }

  /** Drops a record: the job failed or was cancelled on the service, so a later run may submit it again. */
  async forget(key: string): Promise<void> {
    await rm(this.#path(key), { force: true });
  }

  /**
   * What became of a submission recorded as `submitting`, without waiting: `answered` when its
   * stdout holds the request id; `pending` while the runner that started it, or the submit
   * process itself, may still answer; `unanswered` when nothing ever will (the submit failed or
   * was cut off before an id came back): there is no job to follow, and a run submits anew.
   */
  async submission(
    record: JobRecord & { status: 'submitting' },
  ): Promise<
    { readonly kind: 'answered'; readonly requestId: string } | { readonly kind: 'pending' | 'unanswered' }
  > {
    const id = await readRequestId(record.stdoutFile);
    if (id !== undefined) return { kind: 'answered', requestId: id };
    const submitterAlive =
      record.submitter.pid !== process.pid && processAlive(record.submitter.pid, record.submitter.startTime);
    // The runner that wrote the record is gone; its submit child may still be finishing.
    return submitterAlive || (await childMayBeRunning(record.stdoutFile))
      ? { kind: 'pending' }
      : { kind: 'unanswered' };
  }

  /**
   * The request id of an interrupted submission, if it created a job: read from the stdout
   * file the submit process wrote. If that process still runs (it outlives a killed runner
   * because it has its own process group), wait for it first.
   */
  async pendingRequestId(
    record: JobRecord & { status: 'submitting' },
    waitMs = 120_000,
  ): Promise<string | undefined> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const state = await this.submission(record);
      if (state.kind === 'answered') return state.requestId;
      if (state.kind === 'unanswered' || Date.now() > deadline) return undefined;
      await sleep(100);
    }
  }

  #path(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  async #write(record: JobRecord): Promise<void> {
    await makeDir(this.dir, 0o700);
    await writeFileAtomic(this.#path(record.key), this.#redact(JSON.stringify(record, null, 2) + '\n'), {
      mode: 0o600,
    });
  }
}

/** A submission's stdout file and the two beside it (stderr, the child's pid). */
async function removeOutput(file: string): Promise<void> {
  await Promise.all([file, `${file}.err`, `${file}.pid`].map((f) => rm(f, { force: true })));
}

/** Numbers this process's submissions, for their stdout files' names. */
let submissionSeq = 0;

async function readRequestId(file: string): Promise<string | undefined> {
  try {
    const parsed = parseClientPayload(await readFile(file, 'utf8'));
    const id = isJsonObject(parsed) ? parsed['request_id'] : undefined;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the submit process of an interrupted submission may still answer. Its pid is written
 * next to its stdout file right after it starts; a runner killed in the microseconds between
 * the two leaves no pid file, so a fresh stdout file without one also counts for a while.
 */
async function childMayBeRunning(stdoutFile: string): Promise<boolean> {
  try {
    const info = JSON.parse(await readFile(`${stdoutFile}.pid`, 'utf8')) as {
      pid?: number;
      startTime?: string;
    };
    return typeof info.pid === 'number' && processAlive(info.pid, info.startTime);
  } catch {
    try {
      return Date.now() - (await stat(stdoutFile)).mtimeMs < 15_000;
    } catch {
      return false;
    }
  }
}

/** An ISO time a record was stamped with (a TTL or an age is computed from it). */
function isTime(value: unknown): boolean {
  return typeof value === 'string' && Number.isFinite(Date.parse(value));
}

function isValidRecord(value: unknown, key: string): value is JobRecord {
  if (!isJsonObject(value) || value['v'] !== JOB_RECORD_VERSION || value['key'] !== key) return false;
  switch (value['status']) {
    case 'submitting':
      return (
        typeof value['stdoutFile'] === 'string' &&
        isJsonObject(value['submitter']) &&
        typeof value['submitter']['pid'] === 'number' &&
        isTime(value['since'])
      );
    case 'submitted':
      return typeof value['requestId'] === 'string' && isTime(value['submittedAt']);
    case 'succeeded':
      return (
        typeof value['requestId'] === 'string' &&
        isJsonObject(value['output']) &&
        Array.isArray(value['files']) &&
        value['files'].every((f) => typeof f === 'string') &&
        typeof value['outRoot'] === 'string' &&
        isTime(value['finishedAt'])
      );
    default:
      return false;
  }
}
