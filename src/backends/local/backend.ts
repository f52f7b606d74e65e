import { randomUUID } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JsonObject } from '../../util/json.js';
import type {
  AttemptFailure,
  AttemptHooks,
  AttemptOutcome,
  AttemptRequest,
  Backend,
  CancelOutcome,
  FailureReason,
} from '../backend.js';
import type { EngineFailure, LocalEngine } from './types.js';
import { cancelled } from './failures.js';
import { makeDir } from '../../util/make-dir.js';
import { downloadInput } from './download.js';

/**
 * The offline engine as a backend: `local/face-swap` (an identity image and one scene or a list
 * of scenes in, one swapped PNG per scene out) and `local/face-swap-video` (needs ffmpeg). It
 * goes through the same scheduler, cache, records and reporters as the hosted models; its
 * "request ids" are local job ids, and its outputs are the files themselves: `images` (or
 * `video`) hold absolute paths, so a later local stage can take them as inputs.
 *
 * Inputs are local paths relative to the recipe's folder (the URL policy and consent rules
 * have already refused paths that leave it) or https URLs, downloaded for the attempt (every
 * redirect hop checked by the URL policy too), so a `swap:` recipe written for RunComfy runs
 * with `--engine local` as it is.
 */
export class LocalBackend implements Backend {
  readonly #recipeDir: string;
  readonly #allowInsecureLocal: boolean;
  #engine: Promise<LocalEngine> | undefined;

  constructor(recipeDir: string, options: { readonly allowInsecureLocal?: boolean } = {}) {
    this.#recipeDir = recipeDir;
    this.#allowInsecureLocal = options.allowInsecureLocal ?? false;
  }

  async runAttempt(request: AttemptRequest, hooks: AttemptHooks): Promise<AttemptOutcome> {
    const jobId = request.reattach ?? `local-${randomUUID()}`;
    await hooks.submitted(jobId);
    const faceIndex =
      typeof request.input['face_index'] === 'number' ? request.input['face_index'] : undefined;
    const partial = join(request.outputRoot, `.${jobId}.partial-${process.pid}`);
    const inputs = join(request.outputRoot, `.${jobId}.inputs-${process.pid}`);
    const dir = join(request.outputRoot, jobId);
    await rm(partial, { recursive: true, force: true });
    await makeDir(partial);
    const fetched = new Map<string, Promise<Resolved>>();
    const resolveInput = (value: unknown): Promise<Resolved> => {
      if (typeof value !== 'string' || !/^https?:\/\//i.test(value))
        return Promise.resolve(this.#path(value));
      const known = fetched.get(value);
      if (known) return known;
      const download = this.#download(value, inputs, request.signal);
      fetched.set(value, download);
      return download;
    };
    try {
      const identity = await resolveInput(request.input['identity']);
      if (typeof identity !== 'string')
        return inputFailure(
          `${request.model.id}: "identity" must be an image file (${identity.problem})`,
          identity,
          jobId,
        );
      return await this.#swapInto(partial, dir, identity, faceIndex, request, hooks, jobId, resolveInput);
    } catch (cause) {
      // Only a download stopped by the attempt's signal throws.
      if (!request.signal.aborted) throw cause;
      const deadline = request.abortReason() === 'deadline';
      return fail(deadline ? 'timed-out' : 'interrupted', cancelled(deadline).message, jobId);
    } finally {
      await rm(partial, { recursive: true, force: true });
      await rm(inputs, { recursive: true, force: true });
    }
  }

  async #swapInto(
    partial: string,
    dir: string,
    identity: string,
    faceIndex: number | undefined,
    request: AttemptRequest,
    hooks: AttemptHooks,
    jobId: string,
    resolveInput: (value: unknown) => Promise<Resolved>,
  ): Promise<AttemptOutcome> {
    const input = request.input;
    let engine: LocalEngine;
    try {
      engine = await this.#open();
    } catch (cause) {
      return fail('engine-error', `the local engine could not start: ${(cause as Error).message}`, jobId);
    }
    hooks.progress({ state: 'in_progress' });
    const files: string[] = [];
    if (request.model.id === 'local/face-swap-video') {
      const video = await resolveInput(input['video']);
      if (typeof video !== 'string')
        return inputFailure(
          `local/face-swap-video: "video" must be a video file (${video.problem})`,
          video,
          jobId,
        );
      const out = join(partial, 'swapped.mp4');
      const result = await engine.swapVideo({
        identityPath: identity,
        targetPath: video,
        outputPath: out,
        ...(faceIndex !== undefined && { faceIndex }),
        signal: request.signal,
      });
      if (result.kind === 'failed') return this.#failed(result, request, jobId);
      files.push('swapped.mp4');
    } else {
      const scenes = Array.isArray(input['scene']) ? input['scene'] : [input['scene']];
      for (const [i, raw] of scenes.entries()) {
        const scene = await resolveInput(raw);
        if (typeof scene !== 'string')
          return inputFailure(
            `${request.model.id}: scene ${i} must be an image file (${scene.problem})`,
            scene,
            jobId,
          );
        const name = `scene-${String(i).padStart(3, '0')}.png`;
        const result = await engine.swap({
          identityPath: identity,
          targetPath: scene,
          outputPath: join(partial, name),
          ...(faceIndex !== undefined && { faceIndex }),
          signal: request.signal,
        });
        if (result.kind === 'failed')
          return this.#failed(
            result,
            request,
            jobId,
            scenes.length > 1 ? `scene ${i} (${String(raw)})` : undefined,
          );
        files.push(name);
      }
    }
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
    const paths = files.map((f) => join(dir, f));
    const output: JsonObject =
      request.model.id === 'local/face-swap-video' ? { video: paths[0]! } : { images: paths };
    return { kind: 'succeeded', requestId: jobId, output, files: paths };
  }

  cancel(): Promise<CancelOutcome> {
    // Local jobs stop with their attempt's signal; there is nothing remote to cancel.
    return Promise.resolve('cancelled');
  }

  /** Stops the engine's worker (end of the run). */
  async close(): Promise<void> {
    const engine = this.#engine;
    this.#engine = undefined;
    if (engine) await (await engine.catch(() => undefined))?.close();
  }

  #open(): Promise<LocalEngine> {
    // Imported on first use: a run without local stages never loads sharp or the worker code.
    this.#engine ??= import('./engine.js').then(({ openLocalEngine }) => openLocalEngine());
    return this.#engine;
  }

  /** A remote input, fetched into the attempt's own folder (the same URL once per attempt). */
  async #download(url: string, dir: string, signal: AbortSignal): Promise<Resolved> {
    await makeDir(dir);
    const result = await downloadInput(url, dir, { signal, allowInsecureLocal: this.#allowInsecureLocal });
    if ('path' in result) return result.path;
    return { problem: `${url}: ${result.problem}`, ...(result.refused && { refused: true as const }) };
  }

  /** A local input path, resolved against the recipe's folder. */
  #path(value: unknown): Resolved {
    if (typeof value !== 'string' || value === '')
      return { problem: 'it is missing or not text', refused: true };
    // Decoded as the URL policy decodes it (`file:///a%20b.jpg` is "/a b.jpg"), so the file
    // checked before the run is the file read.
    let path = value;
    if (/^file:/i.test(value)) {
      try {
        path = fileURLToPath(value);
      } catch {
        return { problem: 'it is not a usable file: URL', refused: true };
      }
    }
    return isAbsolute(path) ? path : resolve(this.#recipeDir, path);
  }

  #failed(failure: EngineFailure, request: AttemptRequest, jobId: string, where?: string): AttemptOutcome {
    const message = where ? `${where}: ${failure.message}` : failure.message;
    switch (failure.reason) {
      case 'cancelled': {
        // The engine sees only that it was stopped; the runner knows why (the attempt's
        // deadline said "cancelled" before).
        const deadline = request.abortReason() === 'deadline';
        const why = cancelled(deadline).message;
        return fail(deadline ? 'timed-out' : 'interrupted', where ? `${where}: ${why}` : why, jobId);
      }
      case 'engine-error':
      case 'ffmpeg-not-found':
        return fail('engine-error', message, jobId);
      case 'output-not-writable':
        return fail('postprocess-failed', message, jobId);
      default:
        return fail('invalid-input', message, jobId);
    }
  }
}

/** An input as a file path, or why it is not one (`refused`: the input itself is wrong). */
type Resolved = string | { readonly problem: string; readonly refused?: true };

/**
 * An input that is not a usable file: bad input when the value itself is wrong (or refused by
 * the URL policy), a retryable transport failure when its download did not go through.
 */
function inputFailure(message: string, problem: Exclude<Resolved, string>, jobId: string): AttemptOutcome {
  return fail(problem.refused ? 'invalid-input' : 'transport', message, jobId);
}

function fail(reason: FailureReason, message: string, requestId: string): AttemptOutcome {
  const failure: AttemptFailure = { reason, message, requestId, jobAlive: false };
  return { kind: 'failed', failure };
}
