// What `run` (after polling) and `result` do with a result record (contract §4, §6):
//
// - completed: `[ok] completed`, print (run: only `output`; result: the whole record), then
//   download unless --no-download → exit 0 even if downloads fail;
// - cancelled / failed: print the record (result only), then fail with `request cancelled` or
//   `request failed: <error JSON>` → exit 1 (untyped: the §6 sniffing quirk may apply);
// - anything else (unfinished): `[info] not finished yet (status: …)`, print the whole record
//   (run too), exit 0.

import { CliError } from '../errors.mjs';
import { downloadOutputs } from '../downloads.mjs';
import { toJsonText } from '../json-text.mjs';

/**
 * @param {object} context
 * @param {import('../reporter.mjs').Reporter} context.reporter
 * @param {(url: string) => object | undefined} context.ruleFor scenario download rules
 * @param {boolean} [context.anyHost] an early 0.1.x client: downloads from every host
 * @param {'parsed' | 'written'} [context.fileNames] which reading of §5's file naming
 * @param {Record<string, unknown>} record the result record
 * @param {{outputOnly: boolean, outputDir: string, noDownload: boolean}} options
 * @returns {number} exit code (errors are thrown)
 */
export function finishResult(
  { reporter, ruleFor, anyHost = false, fileNames = 'parsed' },
  record,
  { outputOnly, outputDir, noDownload },
) {
  const status = String(record.status ?? '').toLowerCase();
  const hasOutput = Object.hasOwn(record, 'output');

  switch (status) {
    case 'completed':
    case 'succeeded': {
      reporter.progress('✅', 'ok', status);
      reporter.payload(outputOnly ? (hasOutput ? record.output : {}) : record);
      if (!noDownload && hasOutput)
        downloadOutputs(record.output, outputDir, reporter, ruleFor, anyHost, fileNames);
      return 0;
    }
    case 'cancelled':
    case 'canceled':
      if (!outputOnly) reporter.payload(record);
      throw new CliError('request cancelled');
    case 'failed': {
      if (!outputOnly) reporter.payload(record);
      const detail = Object.hasOwn(record, 'error') ? toJsonText(record.error, false) : '(no detail)';
      throw new CliError(`request failed: ${detail}`);
    }
    default:
      reporter.progress('ℹ', 'info', `not finished yet (status: ${status === '' ? '(unknown)' : status})`);
      reporter.payload(record);
      return 0;
  }
}
