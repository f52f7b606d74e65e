// `runcomfy result <id>` / `requests result <id>` (contract §4): the whole record; downloads
// when completed; failed/cancelled → record, then error (1); unfinished → record, exit 0.

import { loadToken } from '../token.mjs';
import { finishResult } from './finish-result.mjs';

/**
 * @param {import('../main.mjs').CommandContext} context
 * @param {{outputDir: string, noDownload: boolean}} options
 */
export function resultCommand(context, requestId, options) {
  const record = context.openApi(loadToken(context.env)).result(requestId);
  return finishResult(
    {
      reporter: context.reporter,
      ruleFor: context.downloadRules(requestId),
      anyHost: context.downloadAnyHost,
      fileNames: context.fileNames,
    },
    record,
    {
      outputOnly: false,
      outputDir: options.outputDir,
      noDownload: options.noDownload,
    },
  );
}
