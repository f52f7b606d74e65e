import type { RawFace } from './detector.js';
import type { Raster } from './raster.js';

/**
 * Messages between the engine (main thread) and its worker. Pixel buffers are transferred, not
 * copied. Every request carries an `id` that its reply repeats.
 */
export type WorkerRequest =
  | { readonly type: 'detect'; readonly id: number; readonly image: Raster }
  | {
      readonly type: 'compose';
      readonly id: number;
      readonly target: Raster;
      readonly targetPoints: Float32Array;
      readonly identity: Raster;
      readonly identityPoints: Float32Array;
    }
  | {
      readonly type: 'swap-frame';
      readonly id: number;
      readonly frame: Raster;
      readonly identity: Raster;
      readonly identityPoints: Float32Array;
      readonly faceIndex: number | undefined;
      readonly previous: Float32Array | undefined;
    };

export type WorkerReply =
  | { readonly type: 'ready'; readonly millis: number }
  | { readonly type: 'load-failed'; readonly message: string }
  | { readonly type: 'faces'; readonly id: number; readonly faces: RawFace[] }
  | {
      readonly type: 'composed';
      readonly id: number;
      readonly rgba: Uint8Array;
      readonly width: number;
      readonly height: number;
    }
  | {
      readonly type: 'frame';
      readonly id: number;
      readonly frame: Raster;
      readonly points: Float32Array | undefined;
      readonly faces: number;
    }
  | { readonly type: 'error'; readonly id: number; readonly message: string };

/** Data the worker is started with (`workerData`). */
export interface WorkerConfig {
  readonly modelDir: string | undefined;
}
