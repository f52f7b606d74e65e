import { checkRequest, fileKey } from './check-request.js';
import {
  cancelledBy,
  faceIndexOutOfRange,
  faceTooSmall,
  failure,
  noFace,
  unreadable,
  type Role,
} from './failures.js';
import { ffmpegAvailable, probeVideo } from './ffmpeg.js';
import { findFaces } from './find-faces.js';
import { largestFace, type FoundFace } from './select-face.js';
import { DEFAULT_MAX_INPUT_PIXELS, DEFAULT_MIN_FACE_PIXELS } from './limits.js';
import { decodeRegion, describeSharpError, writeComposite } from './image-io.js';
import { planIdentityCrop, planTargetCrop, type CropPlan } from './plan-crops.js';
import type { Raster } from './raster.js';
import type {
  DetectResult,
  DetectedFace,
  EngineFailure,
  LocalEngine,
  LocalEngineOptions,
  SwapRequest,
  SwapResult,
  VideoSwapRequest,
  VideoSwapResult,
} from './types.js';
import { swapVideoFrames } from './video.js';
import { guarded } from './guard.js';
import { replyOf, WorkerClient } from './worker-client.js';

export type * from './types.js';

export { DEFAULT_MAX_INPUT_PIXELS, DEFAULT_MIN_FACE_PIXELS } from './limits.js';

/**
 * Starts the engine: spawns its worker thread and loads the face models there (about a second
 * on one core). Rejects only if the models cannot be loaded at all, which is an installation
 * problem rather than a property of any input.
 */
export async function openLocalEngine(options: LocalEngineOptions = {}): Promise<LocalEngine> {
  const client = new WorkerClient({ modelDir: options.modelDir });
  const start = await client.start();
  if (start.kind === 'crashed') {
    await client.close();
    throw new Error(start.message);
  }
  return new Engine(client, options);
}

interface Identity {
  readonly key: string;
  readonly path: string;
  readonly width: number;
  readonly height: number;
  readonly face: FoundFace;
}

class Engine implements LocalEngine {
  readonly #client: WorkerClient;
  readonly #maxPixels: number;
  readonly #minFace: number;
  /** The last identity analysed: a batch swaps one identity into many scenes. */
  #identity: Identity | undefined;
  constructor(client: WorkerClient, options: LocalEngineOptions) {
    this.#client = client;
    this.#maxPixels = options.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS;
    this.#minFace = options.minFacePixels ?? DEFAULT_MIN_FACE_PIXELS;
  }

  detect(path: string, options: { readonly signal?: AbortSignal } = {}): Promise<DetectResult> {
    return guarded(options.signal, () => this.#detect(path, options.signal));
  }

  swap(request: SwapRequest): Promise<SwapResult> {
    return guarded(request.signal, () => this.#swap(request, performance.now()));
  }

  swapVideo(request: VideoSwapRequest): Promise<VideoSwapResult> {
    return guarded(request.signal, () => this.#swapVideo(request, performance.now()));
  }

  async close(): Promise<void> {
    await this.#client.close();
  }

  async #detect(path: string, signal: AbortSignal | undefined): Promise<DetectResult> {
    const started = performance.now();
    const found = await findFaces(this.#client, path, 'target', this.#maxPixels, signal);
    if (found.kind === 'failed') return found;
    return {
      kind: 'detected',
      width: found.width,
      height: found.height,
      faces: found.faces.map(toDetectedFace),
      millis: performance.now() - started,
    };
  }

  async #swapVideo(request: VideoSwapRequest, started: number): Promise<VideoSwapResult> {
    const { signal } = request;
    const invalid = await checkRequest(request, '.mp4');
    if (invalid !== undefined) return invalid;
    if (!(await ffmpegAvailable())) {
      return failure(
        'ffmpeg-not-found',
        'swapping faces in a video needs ffmpeg and ffprobe on PATH: install ffmpeg (e.g. apt-get install ffmpeg) and retry',
      );
    }
    const identity = await this.#analyseIdentity(request.identityPath, signal);
    if ('kind' in identity) return identity;
    const probe = await probeVideo(request.targetPath);
    if (probe.kind === 'unreadable') return unreadable('target', request.targetPath, probe.detail, 'video');
    // The target face's size varies from frame to frame and is not known yet; a face in a video
    // is rarely above 60% of the frame's short side, so the identity is prepared at most that big.
    const plan = planIdentityCrop(
      identity.face.points,
      identity.width,
      identity.height,
      0.6 * Math.min(probe.width, probe.height),
    );
    const crop = await this.#decodeCrop('identity', identity.path, plan);
    if ('kind' in crop) return crop;
    if (signal?.aborted) return cancelledBy(signal);
    const limits = { maxPixels: this.#maxPixels, minFace: this.#minFace };
    return swapVideoFrames(this.#client, { crop, points: plan.points }, request, probe, limits, started);
  }

  async #swap(request: SwapRequest, started: number): Promise<SwapResult> {
    const { signal } = request;
    const invalid = await checkRequest(request, '.png');
    if (invalid !== undefined) return invalid;
    if (signal?.aborted) return cancelledBy(signal);

    const identity = await this.#analyseIdentity(request.identityPath, signal);
    if ('kind' in identity) return identity;

    const target = await findFaces(this.#client, request.targetPath, 'target', this.#maxPixels, signal);
    if (target.kind === 'failed') return target;
    if (target.faces.length === 0) return noFace('target', request.targetPath, this.#minFace);
    const index = request.faceIndex ?? largestFace(target.faces);
    const face = target.faces[index];
    if (face === undefined) return faceIndexOutOfRange(request.targetPath, index, target.faces.length);
    const small = this.#tooSmall('target', request.targetPath, face);
    if (small !== undefined) return small;

    const targetPlan = planTargetCrop(face.points, target.width, target.height);
    const identityPlan = planIdentityCrop(
      identity.face.points,
      identity.width,
      identity.height,
      face.size * (targetPlan.outWidth / targetPlan.region.width),
    );
    const [targetCrop, identityCrop] = await Promise.all([
      this.#decodeCrop('target', request.targetPath, targetPlan),
      this.#decodeCrop('identity', identity.path, identityPlan),
    ]);
    if ('kind' in targetCrop) return targetCrop;
    if ('kind' in identityCrop) return identityCrop;
    if (signal?.aborted) return cancelledBy(signal);

    const outcome = await this.#client.request(
      {
        type: 'compose',
        target: targetCrop,
        targetPoints: targetPlan.points,
        identity: identityCrop,
        identityPoints: identityPlan.points,
      },
      [targetCrop.data.buffer as ArrayBuffer, identityCrop.data.buffer as ArrayBuffer],
      signal,
    );
    const reply = replyOf(outcome, 'composed');
    if ('kind' in reply) return reply;

    const written = await writeComposite(
      request.targetPath,
      this.#maxPixels,
      target.hasAlpha,
      { rgba: reply.rgba, width: reply.width, height: reply.height, region: targetPlan.region },
      request.outputPath,
      signal,
    );
    switch (written.kind) {
      case 'written':
        break;
      case 'cancelled':
        return cancelledBy(signal);
      case 'failed':
        return failure(
          'output-not-writable',
          `cannot write the result to ${request.outputPath}: ${written.detail}; check that the folder exists and is writable`,
        );
    }
    return {
      kind: 'swapped',
      outputPath: request.outputPath,
      width: target.width,
      height: target.height,
      targetFace: roundBox(face),
      facesInTarget: target.faces.length,
      millis: performance.now() - started,
    };
  }

  /** Finds the identity's largest face, remembering the last identity by path, size and mtime. */
  async #analyseIdentity(path: string, signal: AbortSignal | undefined): Promise<Identity | EngineFailure> {
    const key = await fileKey(path);
    const cached = this.#identity;
    if (key !== undefined && cached?.key === key) return cached;
    const found = await findFaces(this.#client, path, 'identity', this.#maxPixels, signal);
    if (found.kind === 'failed') return found;
    const face = found.faces[largestFace(found.faces)];
    if (face === undefined) return noFace('identity', path, this.#minFace);
    const small = this.#tooSmall('identity', path, face);
    if (small !== undefined) return small;
    const identity = { key: key ?? '', path, width: found.width, height: found.height, face };
    if (key !== undefined) this.#identity = identity;
    return identity;
  }

  /** Decodes a planned crop; a file that changed or broke since detection becomes a failure. */
  async #decodeCrop(role: Role, path: string, plan: CropPlan): Promise<Raster | EngineFailure> {
    try {
      return await decodeRegion(path, this.#maxPixels, plan.region, plan.outWidth, plan.outHeight);
    } catch (error) {
      return unreadable(role, path, describeSharpError(error));
    }
  }

  #tooSmall(role: Role, path: string, face: FoundFace): EngineFailure | undefined {
    return face.size < this.#minFace ? faceTooSmall(role, path, face.size, this.#minFace) : undefined;
  }
}

function roundBox(face: FoundFace): { x: number; y: number; width: number; height: number } {
  const { x, y, width, height } = face.box;
  return { x: Math.round(x), y: Math.round(y), width: Math.round(width), height: Math.round(height) };
}

function toDetectedFace(face: FoundFace): DetectedFace {
  const landmarks = [];
  for (let i = 0; i < face.points.length; i += 3) {
    landmarks.push({ x: face.points[i] ?? 0, y: face.points[i + 1] ?? 0, z: face.points[i + 2] ?? 0 });
  }
  return { box: roundBox(face), score: face.score, landmarks };
}
