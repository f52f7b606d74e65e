import type { FailureReason } from '../backends/backend.js';
import type { StageResult } from '../run/result.js';
import { formatDuration } from '../util/duration.js';
import { unreachable } from '../util/unreachable.js';

/** Words for failure reasons in one-line reports. */
export function reasonText(reason: FailureReason): string {
  switch (reason) {
    case 'rate-limited':
      return 'rate limited';
    case 'timed-out':
      return 'timed out';
    case 'service-unavailable':
      return 'service unavailable';
    case 'transport':
      return 'connection failed';
    case 'missing-download':
      return 'download missing';
    case 'job-failed':
      return 'job failed';
    case 'job-cancelled':
      return 'job cancelled';
    case 'invalid-input':
      return 'invalid input';
    case 'not-permitted':
      return 'not permitted';
    case 'missing-file':
      return 'missing file';
    case 'unauthorized':
      return 'not authorized';
    case 'client-error':
      return 'client usage error';
    case 'protocol':
      return 'unexpected client answer';
    case 'unclear-answer':
      return 'unclear answer about a live job';
    case 'client-missing':
      return 'client not found';
    case 'engine-error':
      return 'engine error';
    case 'interrupted':
      return 'interrupted';
    case 'postprocess-failed':
      return 'labelling or recording the outputs failed';
    case 'cannot-write':
      return 'a file of the run could not be written';
    default:
      return unreachable(reason);
  }
}

/** The end-of-run table: stage, model, status, attempts, time, output files. */
export function renderSummary(
  results: readonly StageResult[],
  options: { submissions: number; clientCalls: number; record: string | null },
): string {
  const rows = results.map((r) => {
    const files = r.status === 'skipped' ? [] : r.files;
    const status = statusWord(r);
    // startedAt is the first attempt's start (src/run/executor.ts), as in every other report.
    const time = r.status === 'skipped' ? '-' : formatDuration(r.endedAt - r.startedAt);
    const fileText =
      files.length === 0
        ? '-'
        : files.length <= 2
          ? files.join(', ')
          : `${files[0]!}, … (${files.length} files)`;
    return [r.stage, r.model, status, String(r.attempts.length), time, fileText];
  });
  const header = ['stage', 'model', 'status', 'attempts', 'time', 'files'];
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  let out = [line(header), ...rows.map(line)].join('\n') + '\n';
  const cached = results.filter((r) => r.status === 'cached').length;
  const cachedText = cached > 0 ? `${cached} stage${cached === 1 ? '' : 's'} cached` : '';
  const calls =
    options.clientCalls === 0
      ? `no runcomfy calls${cachedText ? ` (${cachedText})` : ''}`
      : [
          `${options.clientCalls} runcomfy call${options.clientCalls === 1 ? '' : 's'}`,
          `${options.submissions} job${options.submissions === 1 ? '' : 's'} submitted`,
          ...(cachedText ? [cachedText] : []),
        ].join(', ');
  out += `\n${calls}${options.record ? `; run record: ${options.record}` : ''}\n`;
  return out;
}

function statusWord(r: StageResult): string {
  switch (r.status) {
    case 'succeeded':
      return 'succeeded';
    case 'cached':
      return 'cached';
    case 'failed':
      return `failed (${reasonText(r.failure.reason)})`;
    case 'skipped':
      return `skipped (${r.reason})`;
    default:
      return unreachable(r);
  }
}
