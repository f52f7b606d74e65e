// Wait-mode polling of `run` (contract §4, §7, §8): poll at once, then every interval; print the
// status description whenever it changes; stop at a terminal status. Any error of a status call
// (a scripted fault) ends the process with that error, and the job runs on.
//
// SIGINT is captured from the moment polling starts. A SIGINT that arrives during a status call
// is handled right after it, unless that status was terminal. Handling it: cancel the request,
// say what the API answered, and fail with `cancelled by user` (exit 1).

import { CliError, reasonOf } from '../errors.mjs';
import { isTerminal } from '../lifecycle.mjs';

/**
 * @param {object} context
 * @param {import('../reporter.mjs').Reporter} context.reporter
 * @param {import('../signals.mjs').Signals} context.signals
 * @param {import('../model-api.mjs').ModelApi} api
 * @param {string} requestId
 * @param {number} intervalMs
 */
export async function waitForTerminal({ reporter, signals }, api, requestId, intervalMs) {
  signals.captureSigint();
  let shown;
  for (let first = true; ; first = false) {
    if (!first && (await signals.sleep(intervalMs)) === 'sigint') {
      interrupt(reporter, api, requestId);
    }
    const status = api.status(requestId);
    const text = describe(status);
    if (text !== shown) {
      reporter.detail(text);
      shown = text;
    }
    if (isTerminal(String(status.status).toLowerCase())) return;
  }
}

/** `in_queue (position 3)`, `in_progress`, `completed` … */
function describe(status) {
  const name = status.status ?? '(no status)';
  return typeof status.queue_position === 'number' ? `${name} (position ${status.queue_position})` : name;
}

/** Cancel after Ctrl-C, report the answer, then fail with `cancelled by user`. */
function interrupt(reporter, api, requestId) {
  const what = `request ${requestId}`;
  const hint = `\`runcomfy cancel ${requestId}\` to retry, \`runcomfy result ${requestId}\` to fetch it later`;
  reporter.progress('⏹', 'cancel', `SIGINT received; cancelling ${what}`);
  try {
    const answer = api.cancel(requestId);
    if (answer.outcome === 'not_cancellable') {
      reporter.detail(
        `${what} could not be cancelled (status: ${answer.status}); it will run to completion — ${hint}`,
      );
    } else {
      reporter.detail(`cancel accepted (${answer.status || answer.outcome})`);
    }
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    // Plain `warning:` lines: shown in json mode and with -q too.
    reporter.warning(
      error.httpStatus !== undefined
        ? `warning: remote cancel returned HTTP ${error.httpStatus} ${reasonOf(error.httpStatus)} for ${what}; ${hint}. body: ${error.body}`
        : `warning: failed to send cancel for ${what}: ${error.causes[0] ?? error.message}; ${hint}`,
    );
  }
  throw new CliError('cancelled by user');
}
