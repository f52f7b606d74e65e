/** The offline local face-swap engine: the only module the rest of the program imports. */
export { openLocalEngine, DEFAULT_MAX_INPUT_PIXELS, DEFAULT_MIN_FACE_PIXELS } from './engine.js';
export { landmarkError, measureSwap, type SwapQuality } from './quality.js';
export type * from './types.js';
