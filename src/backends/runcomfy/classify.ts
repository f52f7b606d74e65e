import type { AttemptFailure, FailureReason } from '../backend.js';
import type { ProcessResult } from '../process.js';

/** Which client call failed: it decides whether a remote job may exist. */
export type ClientPhase = 'submit' | 'status' | 'result' | 'cancel';

/**
 * The client's error message: in `--output json` mode the last stderr line is
 * `{"error":"…"}` (other lines may precede it: -v, RUST_LOG, warnings); in pretty mode it is
 * `Error: …`. Usage errors (exit 2) are plain parser text in both modes.
 */
export function clientMessage(stderr: string): string {
  const lines = stderr
    .trimEnd()
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (line.startsWith('{')) {
      try {
        const parsed = JSON.parse(line) as { error?: unknown };
        if (typeof parsed.error === 'string') return parsed.error;
      } catch {
        // not the JSON error line
      }
    }
    if (line.startsWith('Error: ')) return line.slice('Error: '.length);
  }
  return lines.slice(-3).join(' ') || 'no message';
}

/**
 * Maps a finished client process to a failure (undefined for exit 0), following the exit
 * code table of runcomfy-contract.md section 6. `request failed:` always means the remote job
 * failed, whatever the code: the client's text sniffing turns a failed job whose error
 * mentions a timeout into exit 75, and that must not be retried as if it were a 429.
 */
export function classifyExit(
  result: ProcessResult,
  phase: ClientPhase,
): Omit<AttemptFailure, 'stderrTail' | 'requestId'> | undefined {
  switch (result.kind) {
    case 'not-started':
      return { reason: 'client-missing', message: result.message };
    case 'stopped':
      return { reason: 'interrupted', message: 'stopped by faceswap-pipe' };
    case 'signaled':
      return { reason: 'interrupted', message: `the runcomfy client was killed by ${result.signal}` };
    case 'exited':
      break;
  }
  if (result.exitCode === 0) return undefined;
  const message = clientMessage(result.stderr);
  const code = result.exitCode;
  const reason = reasonFor(code, message, phase);
  return { reason, message, exitCode: code };
}

function reasonFor(code: number, message: string, phase: ClientPhase): FailureReason {
  if (message.startsWith('request failed:')) return 'job-failed';
  if (message.startsWith('request cancelled') || message.startsWith('cancelled by user'))
    return 'job-cancelled';
  switch (code) {
    case 1:
      if (/^(POST|GET) \S+/.test(message)) return 'transport';
      return 'protocol';
    case 2:
    case 64:
      return 'client-error';
    case 65:
      // `result` before completion may answer HTTP 400 -> 65 (contract section 11): not the input's fault.
      return phase === 'result' ? 'protocol' : 'invalid-input';
    case 66:
      return 'missing-file';
    case 69:
      return 'service-unavailable';
    case 75:
      return /429|rate/i.test(message) ? 'rate-limited' : 'timed-out';
    case 77:
      return 'unauthorized';
    default:
      return 'protocol';
  }
}
