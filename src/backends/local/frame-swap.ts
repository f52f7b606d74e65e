import { composeFace } from './compose.js';
import type { Detector } from './detector.js';
import { planTargetCrop } from './plan-crops.js';
import { cropRaster, pasteRgba, shrink, type Raster } from './raster.js';
import { DETECT_MAX_SIDE } from './limits.js';
import { largestFace, toFoundFaces } from './select-face.js';

/** One video frame to swap, with the identity prepared once for the whole video. */
export interface FrameSwapInput {
  readonly frame: Raster;
  readonly identity: Raster;
  readonly identityPoints: Float32Array;
  /** Reading-order index of the face to replace; undefined for the largest. */
  readonly faceIndex: number | undefined;
  /** The landmarks used on the previous frame, for smoothing; undefined on the first. */
  readonly previous: Float32Array | undefined;
}

export interface FrameSwapOutput {
  /** The frame, swapped in place (or untouched when no face was replaced). */
  readonly frame: Raster;
  /** The landmarks used, to pass back as `previous`; undefined when no face was replaced. */
  readonly points: Float32Array | undefined;
  readonly faces: number;
}

/**
 * How much of the previous frame's landmarks to keep. Per-frame meshes jitter by a pixel or two,
 * which makes a swapped face shimmer; averaging with the last frame calms that, and the average
 * is dropped when the face moved more than {@link SMOOTH_RESET} of its size (a cut, a fast turn).
 */
const SMOOTH_KEEP = 0.5;
const SMOOTH_RESET = 0.08;

/**
 * Swaps the identity into one frame, entirely inside the worker: detection on a shrunk copy, face
 * choice, landmark smoothing, crop, compose and paste. Frames whose face is missing (or whose
 * chosen index does not exist in this frame) are returned unchanged.
 */
export async function swapFrame(detector: Detector, input: FrameSwapInput): Promise<FrameSwapOutput> {
  const { frame } = input;
  const factor = Math.max(1, Math.ceil(Math.max(frame.width, frame.height) / DETECT_MAX_SIDE));
  const small = shrink(frame, factor);
  const faces = toFoundFaces(
    await detector.detect(small.data, small.width, small.height),
    small.width / frame.width,
  );
  const face = faces[input.faceIndex ?? largestFace(faces)];
  if (face === undefined) return { frame, points: undefined, faces: faces.length };
  const points = smooth(face.points, input.previous, face.size);

  // Full resolution whatever the face size: a frame has no sharp to scale a patch back up, and a
  // video frame is at most a few megapixels.
  const plan = planTargetCrop(points, frame.width, frame.height, Infinity);
  const { x, y, width, height } = plan.region;
  const composed = composeFace({
    target: cropRaster(frame, x, y, width, height),
    targetPoints: plan.points,
    identity: input.identity,
    identityPoints: input.identityPoints,
    triangles: detector.triangles,
  });
  pasteRgba(frame, composed.rgba, x, y, width, height);
  return { frame, points, faces: faces.length };
}

function smooth(current: Float32Array, previous: Float32Array | undefined, size: number): Float32Array {
  if (previous === undefined || previous.length !== current.length) return current;
  let moved = 0;
  for (let i = 0; i < current.length; i += 3) {
    moved += Math.hypot(
      (current[i] ?? 0) - (previous[i] ?? 0),
      (current[i + 1] ?? 0) - (previous[i + 1] ?? 0),
    );
  }
  if (moved / (current.length / 3) > SMOOTH_RESET * size) return current;
  const out = new Float32Array(current.length);
  for (let i = 0; i < current.length; i++)
    out[i] = SMOOTH_KEEP * (previous[i] ?? 0) + (1 - SMOOTH_KEEP) * (current[i] ?? 0);
  return out;
}
