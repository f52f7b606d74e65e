import { cancelled, tooLarge, unreadable, type Role } from './failures.js';
import { DETECT_MAX_SIDE } from './limits.js';
import { decodeForDetection, describeSharpError, probeImage } from './image-io.js';
import { toFoundFaces, type FoundFace } from './select-face.js';
import type { EngineFailure } from './types.js';
import { replyOf, type WorkerClient } from './worker-client.js';

export type FoundFaces =
  | {
      readonly kind: 'found';
      readonly width: number;
      readonly height: number;
      readonly hasAlpha: boolean;
      /** In reading order: by left edge, then top edge. */
      readonly faces: readonly FoundFace[];
    }
  | EngineFailure;

/** Probes, decodes a shrunk copy, runs the detector in the worker and maps landmarks back. */
export async function findFaces(
  client: WorkerClient,
  path: string,
  role: Role,
  maxPixels: number,
  signal: AbortSignal | undefined,
): Promise<FoundFaces> {
  const probe = await probeImage(path, maxPixels);
  switch (probe.kind) {
    case 'unreadable':
      return unreadable(role, path, probe.detail);
    case 'too-large':
      return tooLarge(role, path, probe.width, probe.height, maxPixels);
    case 'ok':
      break;
  }
  if (signal?.aborted) return cancelled(false);
  let decoded;
  try {
    decoded = await decodeForDetection(path, maxPixels, DETECT_MAX_SIDE, probe.width);
  } catch (error) {
    return unreadable(role, path, describeSharpError(error));
  }
  const outcome = await client.request(
    { type: 'detect', image: decoded },
    [decoded.data.buffer as ArrayBuffer],
    signal,
  );
  const reply = replyOf(outcome, 'faces');
  if ('kind' in reply) return reply;
  const faces = toFoundFaces(reply.faces, decoded.scale);
  return { kind: 'found', width: probe.width, height: probe.height, hasAlpha: probe.hasAlpha, faces };
}
