// `runcomfy status <id>` / `requests get <id>` (contract §4): exit 0 in every job state; json
// mode prints the status body, pretty mode aligned `key: value` lines on stdout.

import { loadToken } from '../token.mjs';

/** @param {import('../main.mjs').CommandContext} context */
export function statusCommand(context, requestId) {
  const { reporter } = context;
  const status = context.openApi(loadToken(context.env)).status(requestId);
  if (reporter.json) {
    reporter.payload(status);
    return 0;
  }
  reporter.stdoutLine(`request_id: ${status.request_id}`);
  reporter.stdoutLine(`status:     ${status.status}`);
  if (status.queue_position !== null) reporter.stdoutLine(`queue:      position ${status.queue_position}`);
  reporter.stdoutLine(`status_url: ${status.status_url}`);
  reporter.stdoutLine(`result_url: ${status.result_url}`);
  return 0;
}
