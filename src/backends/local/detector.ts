import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config, Human } from '@vladmandic/human';
import { installFileFetch } from './file-fetch.js';

/** Number of points in a mesh: 468 face-mesh landmarks, then 5 iris points per eye. */
export const MESH_POINTS = 478;

/** The two tfjs calls we make, typed: Human exposes its bundled tfjs as `any`. */
interface Tfjs {
  ready(): Promise<void>;
  tensor3d(values: Uint8Array, shape: [number, number, number], dtype: 'int32'): TensorHandle;
}

/** A tfjs tensor as far as we touch it; Human's own tensor type does not resolve outside its bundle. */
interface TensorHandle {
  dispose(): void;
}

/** A face as the worker hands it over: points packed as x, y, z triples in input pixels. */
export interface RawFace {
  readonly score: number;
  readonly points: Float32Array;
}

/**
 * The face detector (MediaPipe BlazeFace) and face mesh (468 points + iris) of
 * `@vladmandic/human`, on the tfjs wasm backend. Lives inside the engine's worker thread.
 */
export class Detector {
  readonly #human: Human;
  readonly #triangles: Uint16Array;

  private constructor(human: Human) {
    this.#human = human;
    this.#triangles = Uint16Array.from(human.faceTriangulation);
  }

  /**
   * Loads the models. Human's package entry for Node needs `tfjs-node` (a native download that
   * fails here), so we load its wasm build by file path; the package's `exports` map does not
   * expose that file. The wasm binaries are read from `tfjs-backend-wasm/dist/` on disk.
   */
  static async load(modelDir?: string): Promise<Detector> {
    installFileFetch();
    const require = createRequire(import.meta.url);
    const humanNode = require.resolve('@vladmandic/human'); // …/dist/human.node.js
    const humanWasm = join(dirname(humanNode), 'human.node-wasm.js');
    const models = modelDir ?? join(dirname(humanNode), '..', 'models');
    const wasmDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/';
    const lib = require(humanWasm) as { Human: new (config: Partial<Config>) => Human };
    const human = new lib.Human(detectorConfig(pathToFileURL(models + '/').href, wasmDir));
    await human.load();
    await (human.tf as Tfjs).ready();
    return new Detector(human);
  }

  /** Triangles over the 468 mesh points, as index triples (Human's copy of MediaPipe's). */
  get triangles(): Uint16Array {
    return this.#triangles;
  }

  /** Finds faces in packed RGB pixels. Points are in pixels of the given image. */
  async detect(rgb: Uint8Array, width: number, height: number): Promise<RawFace[]> {
    const tf = this.#human.tf as Tfjs;
    const tensor = tf.tensor3d(rgb, [height, width, 3], 'int32');
    try {
      const result = await this.#human.detect(tensor);
      return result.face
        .filter((face) => face.mesh.length >= MESH_POINTS)
        .map((face) => {
          const points = new Float32Array(MESH_POINTS * 3);
          for (let i = 0; i < MESH_POINTS; i++) {
            const p = face.mesh[i] ?? [0, 0, 0];
            // Human truncates coordinates to integers; +0.5 removes the bias of that rounding.
            points[i * 3] = p[0] + 0.5;
            points[i * 3 + 1] = p[1] + 0.5;
            points[i * 3 + 2] = p[2] ?? 0;
          }
          return { score: face.faceScore, points };
        });
    } finally {
      tensor.dispose();
    }
  }
}

/**
 * Stills only: every result cache is off (`cacheSensitivity: 0`, no skipped frames) so one image
 * never borrows boxes from the previous one. Only the detector, mesh and iris models are loaded.
 */
function detectorConfig(modelBasePath: string, wasmPath: string): Partial<Config> {
  return {
    backend: 'wasm',
    modelBasePath,
    wasmPath,
    debug: false,
    async: false,
    warmup: 'none',
    cacheSensitivity: 0,
    skipAllowed: false,
    filter: { enabled: false },
    face: {
      enabled: true,
      detector: {
        rotation: true,
        maxDetected: 20,
        minConfidence: 0.3,
        skipFrames: 0,
        skipTime: 0,
        return: false,
      },
      mesh: { enabled: true },
      iris: { enabled: true, skipFrames: 0, skipTime: 0 },
      description: { enabled: false },
      emotion: { enabled: false },
      antispoof: { enabled: false },
      liveness: { enabled: false },
      attention: { enabled: false },
      gear: { enabled: false },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  } as unknown as Partial<Config>;
}
