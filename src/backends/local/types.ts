/**
 * Public types of the offline local face-swap engine. Everything the rest of the program sees
 * of the engine is declared here; the pixel math, the worker protocol and sharp stay private.
 */

/** An axis-aligned box in pixels of the EXIF-corrected image, origin at the top-left corner. */
export interface FaceBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** One landmark in pixels of the EXIF-corrected image; `z` is depth in the same units, smaller is nearer. */
export interface Point3 {
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

/** One face found by {@link LocalEngine.detect}. */
export interface DetectedFace {
  /** Tight box around the 468 mesh landmarks (not the detector's looser box). */
  readonly box: FaceBox;
  /** Mesh confidence, 0..1. */
  readonly score: number;
  /**
   * 478 points: the 468 MediaPipe face-mesh landmarks followed by 10 iris points (5 per eye),
   * in the MediaPipe index order, so index 1 is the nose tip and 152 the chin.
   */
  readonly landmarks: readonly Point3[];
}

/** The outcome of {@link LocalEngine.detect}. */
export type DetectResult =
  | {
      readonly kind: 'detected';
      /** Width and height of the EXIF-corrected image. */
      readonly width: number;
      readonly height: number;
      /**
       * Faces in reading order: sorted by the left edge of their box, then the top edge. This is
       * the order that {@link SwapRequest.faceIndex} counts in. May be empty.
       */
      readonly faces: readonly DetectedFace[];
      readonly millis: number;
    }
  | EngineFailure;

/** What to swap: the face of `identityPath` goes onto a face of `targetPath`. */
export interface SwapRequest {
  /** The face to put in: a portrait. With several faces, the largest is used. */
  readonly identityPath: string;
  /** The scene whose face is replaced. Its size and (EXIF-corrected) orientation are kept. */
  readonly targetPath: string;
  /** Where to write the result. Always a PNG: the path must end in `.png`. Written atomically. */
  readonly outputPath: string;
  /**
   * Which face of the target to replace, counting from 0 in reading order (left to right, see
   * {@link DetectResult}). Undefined means the largest face.
   */
  readonly faceIndex?: number;
  /** Aborting stops the swap promptly and resolves to a `cancelled` failure; no output is left. */
  readonly signal?: AbortSignal;
}

/** Why a swap or a detection did not produce a result. Every reason has a user-facing message. */
export type FailureReason =
  | 'no-face-in-identity'
  | 'no-face-in-target'
  | 'face-too-small'
  | 'face-index-out-of-range'
  | 'unreadable-image'
  | 'image-too-large'
  | 'invalid-request'
  | 'output-not-writable'
  | 'ffmpeg-not-found'
  | 'cancelled'
  | 'engine-error';

/** A failure as data. `message` is meant for the user: what is wrong and what to do about it. */
export interface EngineFailure {
  readonly kind: 'failed';
  readonly reason: FailureReason;
  readonly message: string;
}

export type SwapResult =
  | {
      readonly kind: 'swapped';
      readonly outputPath: string;
      /** Dimensions of the output, equal to the EXIF-corrected target's. */
      readonly width: number;
      readonly height: number;
      /** The face that was replaced. */
      readonly targetFace: FaceBox;
      /** How many faces the target has, so callers can warn when the choice was ambiguous. */
      readonly facesInTarget: number;
      /** Wall time of this swap, model loading excluded unless it happened during the swap. */
      readonly millis: number;
    }
  | EngineFailure;

/** What to swap in a video: the face of `identityPath` goes onto a face in every frame. */
export interface VideoSwapRequest {
  readonly identityPath: string;
  /** Any video ffmpeg can read. Its first video stream is used; its audio is kept. */
  readonly targetPath: string;
  /** Where to write the result: H.264 + AAC in MP4, so the path must end in `.mp4`. */
  readonly outputPath: string;
  /**
   * Which face to replace in each frame, in that frame's reading order. Undefined means the
   * largest face of each frame. Frames without that face are kept unchanged.
   */
  readonly faceIndex?: number;
  readonly signal?: AbortSignal;
  /** Called after each frame, with the number done and the total when the container says it. */
  readonly onProgress?: (done: number, total: number | undefined) => void;
}

export type VideoSwapResult =
  | {
      readonly kind: 'swapped-video';
      readonly outputPath: string;
      /** Upright size; an odd side is padded by one pixel in the file, as H.264 4:2:0 needs. */
      readonly width: number;
      readonly height: number;
      readonly frames: number;
      /** Frames where a face was replaced; the others are copied through. */
      readonly framesSwapped: number;
      readonly hasAudio: boolean;
      readonly millis: number;
    }
  | EngineFailure;

/** Options of {@link openLocalEngine}. All optional; the defaults are documented in docs/local-engine.md. */
export interface LocalEngineOptions {
  /** Refuse images with more pixels than this (after decoding headers only). Default 50 000 000. */
  readonly maxInputPixels?: number;
  /** Refuse faces narrower than this many pixels, in either image. Default 64. */
  readonly minFacePixels?: number;
  /** Where the Human model files are. Default: the `models/` folder of `@vladmandic/human`. */
  readonly modelDir?: string;
}

/**
 * A loaded engine. The model lives in one worker thread for the life of the engine and serves
 * every call; calls are queued and run one at a time in that worker. Aborting the call that is
 * running terminates the worker; the next call starts a fresh one (and reloads the model).
 */
export interface LocalEngine {
  swap(request: SwapRequest): Promise<SwapResult>;
  /** Needs `ffmpeg` and `ffprobe` on PATH; without them resolves to `ffmpeg-not-found`. */
  swapVideo(request: VideoSwapRequest): Promise<VideoSwapResult>;
  detect(path: string, options?: { readonly signal?: AbortSignal }): Promise<DetectResult>;
  /** Stops the worker. Later calls resolve to an `engine-error` failure. Idempotent. */
  close(): Promise<void>;
}
