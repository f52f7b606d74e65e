// Output channels (contract §4). stdout carries only the payload; stderr carries progress
// (`[tag] …` and three-space detail lines, pretty mode only, hidden by -q), `[v] …` lines (-v, in
// json mode too) and the error (last line).
//
// Every write is synchronous (fs.writeSync on fd 1/2) so that lines are on the pipe before the
// process exits or is killed by a signal, and stdout/stderr interleave in program order. We never
// touch process.stdout/stderr: creating those streams can switch a pipe to non-blocking mode.

import fs from 'node:fs';
import tty from 'node:tty';
import { toJsonText } from './json-text.mjs';
import { sleepSync } from './sleep.mjs';

/** Write all of `text` to a file descriptor, retrying while a non-blocking pipe is full. */
export function writeAll(fd, text) {
  let buffer = Buffer.from(text, 'utf8');
  while (buffer.length > 0) {
    try {
      buffer = buffer.subarray(fs.writeSync(fd, buffer));
    } catch (error) {
      if (error?.code !== 'EAGAIN') throw error;
      sleepSync(5);
    }
  }
}

/**
 * @typedef {object} Reporter
 * @property {boolean} json json mode
 * @property {(emoji: string, tag: string, message: string) => void} progress `[tag] message`
 * @property {(message: string) => void} detail `   message` under a progress line
 * @property {(message: string) => void} verbose `[v] message` with -v
 * @property {(line: string) => void} warning a plain stderr line shown in every mode (`warning: …`)
 * @property {(value: unknown) => void} payload JSON on stdout (pretty or compact)
 * @property {(line: string) => void} stdoutLine a raw stdout line (pretty `status` key: value output)
 * @property {(error: import('./errors.mjs').CliError) => void} error the final error line(s)
 */

/**
 * @param {object} options
 * @param {'pretty' | 'json'} options.output
 * @param {boolean} options.quiet
 * @param {number} options.verbose -v count
 * @param {NodeJS.ProcessEnv} options.env
 * @returns {Reporter}
 */
export function createReporter({ output, quiet, verbose, env }) {
  const json = output === 'json';
  const noColor = env.NO_COLOR !== undefined || env.TERM === 'dumb';
  // Emoji only on a real terminal: tests (piped stderr) always see the `[tag]` form.
  const useEmoji = !json && !noColor && !quiet && tty.isatty(2);
  const err = (line) => writeAll(2, line + '\n');
  const out = (line) => writeAll(1, line + '\n');
  const showProgress = !quiet && !json;

  return {
    json,
    progress(emoji, tag, message) {
      if (showProgress) err(useEmoji ? `${emoji} ${message}` : `[${tag}] ${message}`);
    },
    detail(message) {
      if (showProgress) err(`   ${message}`);
    },
    verbose(message) {
      if (verbose > 0 && !quiet) err(`[v] ${message}`);
    },
    warning(line) {
      err(line);
    },
    payload(value) {
      out(toJsonText(value, !json));
    },
    stdoutLine(line) {
      out(line);
    },
    error(error) {
      err(json ? toJsonText({ error: error.message }, false) : `Error: ${error.chain}`);
    },
  };
}
