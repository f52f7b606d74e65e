// The simulated service's memory, on disk, shared by every stand-in process (contract §10.4):
//
//   <state>/requests/<request id>.json   one job record each (see model-api.mjs)
//   <state>/sequences/<entry>.json       {"next": n}: how many submissions an entry has taken
//   <state>/.lock                        exclusive lock for read-modify-write updates
//
// Writes are atomic (temp file + rename), so readers never see half a record and need no lock.
// Read-modify-write (sequence counters, cancellation, fault counters) happens under the lock: a
// file created with O_EXCL ('wx'), retried with a short random back-off. A lock left by a
// process that was SIGKILLed inside the (millisecond-long) critical section is broken when its
// owner is gone or it is older than LOCK_STALE_MS.
//
// Location: $RUNCOMFY_STANDIN_STATE, else <os.tmpdir()>/runcomfy-standin-<hash of the scenario
// path> (one shared folder when no scenario is set). Tests should always set it.

import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StandinError } from './errors.mjs';
import { sleepSync } from './sleep.mjs';

const LOCK_STALE_MS = 10_000;
const LOCK_GIVE_UP_MS = 60_000;

/** Request ids we generate and accept: anything else cannot name a file of ours. */
const REQUEST_ID = /^[A-Za-z0-9_-]{1,100}$/;

/** The state folder for this environment (see the header). */
export function stateDirFor(env, scenarioPath) {
  if (env.RUNCOMFY_STANDIN_STATE) return path.resolve(env.RUNCOMFY_STANDIN_STATE);
  const key = crypto
    .createHash('sha256')
    .update(scenarioPath ?? '(no scenario)')
    .digest('hex')
    .slice(0, 12);
  return path.join(os.tmpdir(), `runcomfy-standin-${key}`);
}

export class StateStore {
  #dir;

  /** @param {string} dir the state folder; created if missing */
  constructor(dir) {
    this.#dir = dir;
    fs.mkdirSync(path.join(dir, 'requests'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'sequences'), { recursive: true });
  }

  /** A fresh opaque request id (a UUID, as the Model API's look). */
  newRequestId() {
    return crypto.randomUUID();
  }

  /** Take the next 0-based submission index of a scenario entry, atomically across processes. */
  nextSubmissionIndex(entry) {
    const file = path.join(this.#dir, 'sequences', `${encodeURIComponent(entry)}.json`);
    return this.#withLock(() => {
      const next = readJson(file)?.next ?? 0;
      writeJsonAtomic(file, { next: next + 1 });
      return next;
    });
  }

  /** Store a new job record. */
  createJob(job) {
    writeJsonAtomic(this.#jobFile(job.request_id), job);
  }

  /** The job record, or undefined for an id we never issued. */
  readJob(requestId) {
    return REQUEST_ID.test(requestId) ? readJson(this.#jobFile(requestId)) : undefined;
  }

  /**
   * Read-modify-write a job under the lock. `change` mutates the record in place and may return
   * a value, which is passed back. Returns undefined for an unknown id.
   */
  updateJob(requestId, change) {
    if (!REQUEST_ID.test(requestId)) return undefined;
    const file = this.#jobFile(requestId);
    return this.#withLock(() => {
      const job = readJson(file);
      if (job === undefined) return undefined;
      const answer = change(job);
      writeJsonAtomic(file, job);
      return { job, answer };
    });
  }

  #jobFile(requestId) {
    return path.join(this.#dir, 'requests', `${requestId}.json`);
  }

  #withLock(critical) {
    const lock = path.join(this.#dir, '.lock');
    const started = Date.now();
    for (;;) {
      try {
        fs.writeFileSync(lock, String(process.pid), { flag: 'wx' });
        break;
      } catch (error) {
        if (error?.code !== 'EEXIST') throw error;
      }
      breakIfStale(lock);
      if (Date.now() - started > LOCK_GIVE_UP_MS) {
        throw new StandinError(`state lock ${lock} held for over ${LOCK_GIVE_UP_MS} ms`);
      }
      sleepSync(1 + Math.random() * 9);
    }
    try {
      return critical();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }
}

function breakIfStale(lock) {
  try {
    const owner = Number(fs.readFileSync(lock, 'utf8'));
    const age = Date.now() - fs.statSync(lock).mtimeMs;
    if (age > LOCK_STALE_MS || (owner > 0 && !processExists(owner))) fs.rmSync(lock, { force: true });
  } catch {
    // The lock vanished between our attempts: just retry.
  }
}

function processExists(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error?.code === 'EPERM';
  }
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    if (error?.code === 'ENOENT') return undefined;
    throw new StandinError(`unreadable state file ${file}: ${error.message}`);
  }
}

function writeJsonAtomic(file, value) {
  const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(value));
  fs.renameSync(temp, file);
}
