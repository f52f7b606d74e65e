// Token lookup (contract §3): a non-empty (trimmed) RUNCOMFY_TOKEN wins; otherwise token.json in
// $RUNCOMFY_CONFIG_DIR, else $XDG_CONFIG_HOME/runcomfy, else ~/.config/runcomfy (empty variables
// count as unset). No token → 77; an unreadable or malformed token.json → 1 (untyped error).
// The token's value is never checked locally, as in the client; an empty `access_token` in the
// file is accepted here and rejected by the simulated API (401 → 77).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CliError, ioErrorText } from './errors.mjs';

/** The directory the client reads token.json from. */
export function configDir(env) {
  if (env.RUNCOMFY_CONFIG_DIR) return env.RUNCOMFY_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return path.join(env.XDG_CONFIG_HOME, 'runcomfy');
  return path.join(env.HOME || os.homedir(), '.config', 'runcomfy');
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @returns {string} the bearer token (possibly empty, see above)
 */
export function loadToken(env) {
  const fromEnv = (env.RUNCOMFY_TOKEN ?? '').trim();
  if (fromEnv !== '') return fromEnv;

  const file = path.join(configDir(env), 'token.json');
  if (!pathExists(file)) {
    throw new CliError('not signed in — run `runcomfy login` first, or set RUNCOMFY_TOKEN', { code: 77 });
  }
  let raw;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`read token at ${file}`, { causes: [ioErrorText(error)] });
  }
  const problem = tokenProblem(raw);
  // The contract fixes the exit code (1), not the words: tests may word it otherwise.
  const wording = env.RUNCOMFY_STANDIN_TOKEN_ERROR;
  if (problem) throw new CliError(wording || 'parse token.json', { causes: [problem] });
  return JSON.parse(raw).access_token;
}

/** Rust's Path::exists: false when stat fails for any reason (missing, no permission). */
function pathExists(file) {
  try {
    fs.statSync(file);
    return true;
  } catch {
    return false;
  }
}

/** What serde would object to in token.json, or undefined when it deserializes. */
function tokenProblem(raw) {
  let value;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return error.message;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'invalid type: expected struct Token';
  }
  if (!('access_token' in value)) return 'missing field `access_token`';
  if (typeof value.access_token !== 'string') return 'invalid type for `access_token`: expected a string';
  for (const key of ['refresh_token', 'user_email']) {
    if (value[key] != null && typeof value[key] !== 'string') {
      return `invalid type for \`${key}\`: expected a string`;
    }
  }
  if (value.expires_at != null && !Number.isInteger(value.expires_at)) {
    return 'invalid type for `expires_at`: expected i64';
  }
  return undefined;
}
