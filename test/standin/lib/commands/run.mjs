// `runcomfy run MODEL_ID` (contract §1, §4): local checks in the client's order, submit, then
// either print the request id (--no-wait) or poll, fetch the result and finish it.

import { checkModelId, readBody } from '../input.mjs';
import { loadToken } from '../token.mjs';
import { finishResult } from './finish-result.mjs';
import { waitForTerminal } from './wait-for-terminal.mjs';

/**
 * @param {import('../main.mjs').CommandContext} context
 * @param {string} modelId
 * @param {{input?: string, inputFile?: string, noWait: boolean, pollSecs: number,
 *          outputDir: string, noDownload: boolean}} options
 * @returns {Promise<number>} exit code
 */
export async function runCommand(context, modelId, options) {
  const { reporter, log } = context;
  log.note({ model: modelId });
  checkModelId(modelId);
  const body = readBody(options);
  log.note({ body });
  const api = context.openApi(loadToken(context.env));

  reporter.verbose(`Model API base: ${api.base}`);
  reporter.progress('⏳', 'submit', `Submitting request to ${modelId}`);
  const requestId = await api.submit(modelId, body);
  reporter.detail(`request_id: ${requestId}`);

  if (options.noWait) {
    reporter.payload({ request_id: requestId, wait: false });
    return 0;
  }

  const seconds = Math.max(1, options.pollSecs); // 0 counts as 1
  reporter.progress('⏳', 'poll', `Polling status (every ${seconds}s)...`);
  await waitForTerminal(context, api, requestId, seconds * 1000);
  const record = api.result(requestId);
  return finishResult(
    {
      reporter,
      ruleFor: context.downloadRules(requestId),
      anyHost: context.downloadAnyHost,
      fileNames: context.fileNames,
    },
    record,
    {
      outputOnly: true,
      outputDir: options.outputDir,
      noDownload: options.noDownload,
    },
  );
}
