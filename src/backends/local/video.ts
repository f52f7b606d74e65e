import { rename, rm } from 'node:fs/promises';
import { cancelledBy, failure, noFace, tooLarge, unreadable } from './failures.js';
import { decodeFrames, openEncoder, type VideoProbe } from './ffmpeg.js';
import type { Raster } from './raster.js';
import type { VideoSwapRequest, VideoSwapResult } from './types.js';
import { replyOf, type WorkerClient } from './worker-client.js';

/** The identity face, decoded once for the whole video. */
export interface PreparedIdentity {
  readonly crop: Raster;
  readonly points: Float32Array;
}

/**
 * The video path: ffmpeg decodes frames to raw RGB, the worker swaps each one (detection, landmark
 * smoothing, compose), ffmpeg encodes the frames as H.264 and copies the audio. Frames stream
 * through; only one is in memory at a time on each side. The file appears only when complete.
 */
export async function swapVideoFrames(
  client: WorkerClient,
  identity: PreparedIdentity,
  request: VideoSwapRequest,
  probe: Extract<VideoProbe, { kind: 'ok' }>,
  limits: { readonly maxPixels: number; readonly minFace: number },
  started: number,
): Promise<VideoSwapResult> {
  const { targetPath, outputPath, signal } = request;
  const { maxPixels, minFace } = limits;
  const { width, height } = probe;
  if (width * height > maxPixels) return tooLarge('target', targetPath, width, height, maxPixels, 'video');

  const temporary = `${outputPath}.${process.pid}.${Date.now()}.partial`;
  const encoder = openEncoder(
    temporary,
    width,
    height,
    probe.frameRate,
    probe.hasAudio ? targetPath : undefined,
  );
  const frames = decodeFrames(targetPath, width, height);
  let done = 0;
  let swapped = 0;
  let previous: Float32Array | undefined;
  let finished = false;
  try {
    for await (const data of frames) {
      if (signal?.aborted) return cancelledBy(signal);
      const outcome = await client.request(
        {
          type: 'swap-frame',
          frame: { data, width, height },
          identity: identity.crop,
          identityPoints: identity.points,
          faceIndex: request.faceIndex,
          previous,
        },
        [data.buffer as ArrayBuffer],
        signal,
      );
      const reply = replyOf(outcome, 'frame');
      if ('kind' in reply) return reply;
      previous = reply.points;
      if (reply.points !== undefined) swapped++;
      await encoder.write(reply.frame.data);
      done++;
      request.onProgress?.(done, probe.frames);
    }
    if (done === 0) return unreadable('target', targetPath, 'it has no decodable frames', 'video');
    if (swapped === 0) return noFace('target', targetPath, minFace, 'video');
    await encoder.finish();
    if (signal?.aborted) return cancelledBy(signal);
    await rename(temporary, outputPath);
    finished = true;
    return {
      kind: 'swapped-video',
      outputPath,
      width,
      height,
      frames: done,
      framesSwapped: swapped,
      hasAudio: probe.hasAudio,
      millis: performance.now() - started,
    };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return failure('engine-error', `the video could not be processed by ffmpeg: ${detail}`);
  } finally {
    if (!finished) {
      await encoder.kill();
      // Stopping the decoder can itself fail (it may be dead already); the cleanup must go on.
      await frames.return(undefined).catch(() => undefined);
      await rm(temporary, { force: true });
    }
  }
}
