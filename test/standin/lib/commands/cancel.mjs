// `runcomfy cancel <id>` / `requests cancel <id>` (contract §4, §7): exit 0 for both outcomes.
// json mode prints {"outcome","request_id","status"}; pretty mode one stderr line, worded as the
// client words it (its `not_cancellable` text says "already terminal" even for a running job).

import { loadToken } from '../token.mjs';

/** @param {import('../main.mjs').CommandContext} context */
export function cancelCommand(context, requestId) {
  const { reporter } = context;
  const answer = context.openApi(loadToken(context.env)).cancel(requestId);
  if (reporter.json) {
    reporter.payload(answer);
  } else if (answer.outcome === 'cancelled') {
    reporter.progress('✅', 'ok', `Cancelled ${requestId} (final status: ${answer.status})`);
  } else {
    reporter.progress('ℹ', 'info', `${requestId} is already terminal (${answer.status}); cancel is a no-op`);
  }
  return 0;
}
