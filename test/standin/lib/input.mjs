// Local checks of `run`, in the client's order (contract §1 "Order of checks", §2):
// model id (65) → read input file (missing: 66) → JSON parse (65) → must be an object (65).
// The token check (77) follows in token.mjs. Messages follow the client's wording.

import fs from 'node:fs';
import { CliError, ioErrorText } from './errors.mjs';

/** A model id must contain a `/`; it is otherwise put into the URL as-is. */
export function checkModelId(modelId) {
  if (!modelId.includes('/')) {
    throw invalidInput(
      `\`${modelId}\` is not a valid model_id (expected slash-separated, e.g. ` +
        '`blackforestlabs/flux-1-kontext/pro/edit`). ' +
        'Find model_ids with `runcomfy models list` or at https://www.runcomfy.com/models',
    );
  }
}

/**
 * The request body from --input, --input-file (`-` = stdin) or neither (`{}`).
 * @param {{input?: string, inputFile?: string}} options
 * @returns {Record<string, unknown>}
 */
export function readBody({ input, inputFile }) {
  let raw = '{}';
  let flag = '--input';
  if (input !== undefined) {
    raw = input;
  } else if (inputFile !== undefined) {
    flag = '--input-file';
    raw = readInputFile(inputFile);
  }
  let body;
  try {
    body = JSON.parse(raw);
  } catch (error) {
    throw invalidInput(`${flag}: ${error.message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    // The client names the flag `--input` here whichever flag carried the body.
    throw invalidInput(`--input must be a JSON object, got ${kindOf(body)}`);
  }
  return body;
}

function readInputFile(path) {
  try {
    return fs.readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error) {
    const what = path === '-' ? 'read --input-file from stdin' : `read --input-file file ${path}`;
    // 0.2.0 exits 66 (EX_NOINPUT) for a missing file; other read failures stay generic (1).
    throw new CliError(what, {
      causes: [ioErrorText(error)],
      code: error?.code === 'ENOENT' ? 66 : undefined,
    });
  }
}

function invalidInput(detail) {
  return new CliError(`invalid input JSON: ${detail}`, { code: 65 });
}

function kindOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return { boolean: 'a boolean', number: 'a number', string: 'a string' }[typeof value] ?? 'a value';
}
