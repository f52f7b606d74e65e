import { access, constants, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { displayName, failure } from './failures.js';
import type { EngineFailure } from './types.js';

/** Checks what can be checked without decoding anything, so mistakes fail in milliseconds. */
export async function checkRequest(
  request: { readonly faceIndex?: number; readonly outputPath: string },
  extension: '.png' | '.mp4',
): Promise<EngineFailure | undefined> {
  const { faceIndex, outputPath } = request;
  if (faceIndex !== undefined && !(Number.isInteger(faceIndex) && faceIndex >= 0)) {
    return failure('invalid-request', `face_index must be a whole number from 0 up, got ${faceIndex}`);
  }
  if (!outputPath.toLowerCase().endsWith(extension)) {
    const why =
      extension === '.png'
        ? 'stills are written as lossless PNG only'
        : 'videos are written as H.264 MP4 only';
    return failure(
      'invalid-request',
      `the output ${displayName(outputPath)} must be a ${extension} file: ${why}`,
    );
  }
  const folder = dirname(resolve(outputPath));
  try {
    if (!(await stat(folder)).isDirectory())
      throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    await access(folder, constants.W_OK);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why =
      code === 'ENOENT'
        ? 'the folder does not exist'
        : code === 'ENOTDIR'
          ? 'the parent is not a folder'
          : 'the folder is not writable';
    return failure('output-not-writable', `cannot write the result to ${outputPath}: ${why}`);
  }
  return undefined;
}

/** Identifies a file's content cheaply: path, size, mtime and inode. Undefined if it cannot be read. */
export async function fileKey(path: string): Promise<string | undefined> {
  try {
    const info = await stat(path);
    return `${resolve(path)}\0${info.size}\0${info.mtimeMs}\0${info.ino}`;
  } catch {
    return undefined;
  }
}
