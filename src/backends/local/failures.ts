import { basename } from 'node:path';
import type { EngineFailure, FailureReason } from './types.js';

/**
 * The wording of every failure, in one place so it stays consistent: what is wrong, with the
 * file's name, then what to do. No stack traces and no library jargon.
 */

/** Which input a message is about. */
export type Role = 'identity' | 'target';
/** What kind of file it is: a still (the default) or a video's frames. */
export type Medium = 'image' | 'video';

export function failure(reason: FailureReason, message: string): EngineFailure {
  return { kind: 'failed', reason, message };
}

export function noFace(role: Role, path: string, minFace: number, medium: Medium = 'image'): EngineFailure {
  if (medium === 'video')
    return failure(
      'no-face-in-target',
      `no face found in any frame of the target video ${displayName(path)}: the face to replace must be visible, roughly frontal and at least ${minFace} px across in its frames`,
    );
  return role === 'identity'
    ? failure(
        'no-face-in-identity',
        `no face found in the identity image ${displayName(path)}: use a clear, front-facing portrait with the face at least ${minFace} px across`,
      )
    : failure(
        'no-face-in-target',
        `no face found in the target image ${displayName(path)}: the face to replace must be visible, roughly frontal, at least ${minFace} px across and at least a tenth of the image's width`,
      );
}

export function faceTooSmall(role: Role, path: string, size: number, minFace: number): EngineFailure {
  return failure(
    'face-too-small',
    `the face in the ${role} image ${displayName(path)} is ${Math.round(size)} px across, below the minimum of ${minFace} px: use a larger or closer-cropped image`,
  );
}

export function faceIndexOutOfRange(path: string, index: number, faces: number): EngineFailure {
  const range = faces === 1 ? 'only face 0' : `faces 0 to ${faces - 1}, counted left to right`;
  return failure(
    'face-index-out-of-range',
    `face index ${index} does not exist in the target image ${displayName(path)}: it has ${faces} face${faces === 1 ? '' : 's'} (${range}); choose one of those or omit face_index for the largest`,
  );
}

export function unreadable(
  role: Role,
  path: string,
  detail: string,
  medium: Medium = 'image',
): EngineFailure {
  return failure(
    'unreadable-image',
    medium === 'video'
      ? `cannot read the ${role} video ${displayName(path)}: ${detail}; use a video file ffmpeg can decode (MP4, MOV, WebM)`
      : `cannot read the ${role} image ${displayName(path)}: ${detail}; use a PNG, JPEG or WebP file`,
  );
}

export function tooLarge(
  role: Role,
  path: string,
  width: number,
  height: number,
  maxPixels: number,
  medium: Medium = 'image',
): EngineFailure {
  const mp = (n: number): string => `${(n / 1e6).toFixed(1)} MP`;
  const what =
    medium === 'video' ? `video ${displayName(path)}'s frames are` : `image ${displayName(path)} is`;
  return failure(
    'image-too-large',
    `the ${role} ${what} ${width} × ${height} (${mp(width * height)}), above the limit of ${mp(maxPixels)}: downscale it first`,
  );
}

/** `cancelled`, saying whether the signal was a timeout (`AbortSignal.timeout`). */
export function cancelledBy(signal: AbortSignal | undefined): EngineFailure {
  const reason: unknown = signal?.reason;
  return cancelled(reason instanceof DOMException && reason.name === 'TimeoutError');
}

export function cancelled(timedOut: boolean): EngineFailure {
  return failure(
    'cancelled',
    timedOut ? 'the face swap timed out and was stopped' : 'the face swap was cancelled',
  );
}

export function engineError(detail: string): EngineFailure {
  return failure('engine-error', `the local face-swap engine failed: ${detail}`);
}

/** The file's name for messages: users recognise their file name; a full temporary path is noise. */
export function displayName(path: string): string {
  return basename(path);
}
