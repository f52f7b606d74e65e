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
  if (reason === 'unauthorized' && code === 1)
    return {
      reason,
      message: `the runcomfy client cannot read its token file (${message}); run \`runcomfy login\` again, fix or remove token.json, or set RUNCOMFY_TOKEN`,
      exitCode: code,
    };
  return { reason, message, exitCode: code };
}

function reasonFor(code: number, message: string, phase: ClientPhase): FailureReason {
  if (message.startsWith('request failed:')) return 'job-failed';
  if (message.startsWith('request cancelled') || message.startsWith('cancelled by user'))
    return 'job-cancelled';
  // A connection error in json mode is the bare `POST <url>` / `GET <url>` (the cause is dropped).
  // The client's text sniffing turns one whose URL holds `401` or `429` (a port, a request id)
  // into 77 or 75 (contract section 6): still a dropped connection, not a rejected token.
  if (code === 1 ? REQUEST_LINE.test(message) : (code === 75 || code === 77) && BARE_REQUEST.test(message))
    return 'transport';
  // An unreadable or malformed token file is exit 1 (contract section 1), but it fails every
  // call alike: like a missing token, it stops the run rather than failing stage after stage.
  if (code === 1 && /token\.json/i.test(message)) return 'unauthorized';
  // While following a job we know (status, result), an answer we cannot place costs nothing to
  // ask again: the job is not submitted anew, the retry re-attaches to it.
  const following = phase === 'status' || phase === 'result';
  switch (code) {
    case 1:
      return following ? 'unclear-answer' : 'protocol';
    case 2:
    case 64:
      return 'client-error';
    case 65:
      // `result` before completion may answer HTTP 400 -> 65: retry briefly (contract section 11).
      // A 4xx about a job we follow is not our input's fault either: the retry looks it up again
      // (and submits anew only if the service says it does not know the job).
      return following ? 'unclear-answer' : 'invalid-input';
    case 66:
      return 'missing-file';
    case 69:
      return 'service-unavailable';
    case 75:
      // 75 is HTTP 408/429 or an API call over 60 s. Only a message that says it timed out
      // (and names no 429) is read as a timeout: json mode prints just the top-level message
      // (contract section 4), whose wording is not fixed, and a rate limit mistaken for a
      // timeout would let the model's other jobs go on hitting it.
      return TIMED_OUT.test(message) && !RATE_LIMITED.test(message) ? 'timed-out' : 'rate-limited';
    case 77:
      return 'unauthorized';
    default:
      // An exit code the contract does not list (a crash of the client, say).
      return following ? 'unclear-answer' : 'protocol';
  }
}

/** A message that starts with a request line: `GET https://…/requests/<id>/status…`. */
const REQUEST_LINE = /^(POST|GET) \S+/;
/** The whole message is one request line and nothing else. */
const BARE_REQUEST = /^(POST|GET) \S+$/;

/**
 * A 75 that is a rate limit (HTTP 429) rather than a timeout. Whole words only: `429` inside a
 * request id or a port, or "rate" inside "generate", says nothing.
 */
const RATE_LIMITED = /(?<![\w.-])429(?![\w.-])|\brate[ -]?limit|\btoo many requests\b/i;

/** A 75 that says it is a timeout (an API call over 60 s, HTTP 408). */
const TIMED_OUT = /\btim(?:ed|e)[ -]?out\b|\btimeout\b|(?<![\w.-])408(?![\w.-])/i;
