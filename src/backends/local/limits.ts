/**
 * The engine's documented limits (see docs/local-engine.md). Both can be changed per engine with
 * {@link LocalEngineOptions}.
 */

/** Default pixel limit: 50 MP, e.g. 8660 × 5773. Checked on the headers, before decoding. */
export const DEFAULT_MAX_INPUT_PIXELS = 50_000_000;

/**
 * Default minimum face size: the longer side of the face's landmark box, in pixels of the full
 * image. Below it the identity has too few pixels to carry a likeness and the mesh too few to
 * align eyes and mouth.
 */
export const DEFAULT_MIN_FACE_PIXELS = 64;

/**
 * The detector sees the image shrunk to this longer side. BlazeFace itself looks at 256 × 256
 * and the mesh at 192 × 192 crops, so more pixels buy no accuracy, only decode time and memory.
 */
export const DETECT_MAX_SIDE = 1024;
