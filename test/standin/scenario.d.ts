// Types of the stand-in's controls, for TypeScript tests. The stand-in itself (lib/*.mjs) is
// plain JavaScript; lib/scenario.mjs validates scenarios against this shape at run time and
// exits 70 with a pointed message on anything else. README.md has the prose and examples.

/**
 * A scripted API error.
 * - `1`, `65`, `69`, `75`, `77`: exit-code shorthands with a canonical cause:
 *   1 = transport error (connection refused), 65 = HTTP 422, 69 = HTTP 503, 75 = HTTP 429,
 *   77 = HTTP 401;
 * - `"timeout"`: the request timed out (exit 75, message `<METHOD> <url>`);
 * - `"transport"`: same as 1;
 * - `{ http, body }`: any HTTP status 400–599 with an optional response body; the exit code
 *   follows the client's mapping (401/403 → 77, 408/429 → 75, 5xx → 69, other 4xx → 65).
 */
export type ErrorSpec = 1 | 65 | 69 | 75 | 77 | 'timeout' | 'transport' | { http: number; body?: string };

/** An error answered by a later API call on a job, counted across all processes. */
export interface Fault {
  /** Which call fails. `status` covers wait-mode polling and `runcomfy status` alike. */
  on: 'status' | 'result' | 'cancel';
  /** 1-based number(s) of that call on this job. Default 1. */
  call?: number | number[];
  error: ErrorSpec;
}

/** What one submission does. Every field is optional; see `STEP_DEFAULTS` in lib/scenario.mjs. */
export interface Step {
  /** Time in the queue after submission, ms. null = queued forever (cancellable). Default 100. */
  queueMs?: number | null;
  /** Time in progress after the queue, ms. null = runs forever (not cancellable). Default 200. */
  runMs?: number | null;
  /** Queue position reported at submission; counts down to 1 while queued. Default 1. */
  queuePosition?: number;
  /** Status the job ends in. Default "completed". */
  status?: 'completed' | 'failed' | 'cancelled';
  /**
   * What the result record says once the job is done, when it disagrees with `status` (the
   * contract: `run` decides by the result's status, not the status call's). Default: `status`.
   */
  resultStatus?: 'completed' | 'failed' | 'cancelled';
  /**
   * Result `output` of a completed job; `{request_id}` in any string is replaced by the job's
   * id. Default: `{"images": ["https://files.runcomfy.net/{request_id}/result.png"]}`, or
   * `{"video": "https://files.runcomfy.net/{request_id}/output.mp4"}` for video models.
   */
  output?: unknown;
  /** Result `error` of a failed job (string or object). Default "model execution failed". */
  error?: unknown;
  /** "ok" (default); "hang": the submit never answers and creates no job; or an error (no job). */
  submit?: 'ok' | 'hang' | ErrorSpec;
  /** Delay between creating the job and answering the submit, ms. Default 0. */
  submitMs?: number;
  /** Errors answered by later calls on this job (e.g. a 5xx on the 2nd status poll). */
  faults?: Fault[];
}

/** The script of one model id (or of "default"). */
export interface ModelScript {
  /** Fields every step of this entry starts from. */
  base?: Step;
  /** One entry per submission, consumed in order across processes. A number = `{submit: n}`. */
  steps?: (Step | 1 | 65 | 69 | 75 | 77)[];
  /** When the steps are used up: "success" (default) = `base` alone; "repeat-last". */
  then?: 'success' | 'repeat-last';
}

/** Where a download's bytes come from: a fixture file (relative to the scenario file) or a failure. */
/** `redirect`: the URL answers with a redirect there; to an untrusted host, the client saves the empty reply (§5). */
export type DownloadRule = { file: string } | { fail: 'http' | 'connect' } | { redirect: string };

export interface Scenario {
  /** Per model id, plus "default" for models without an entry. */
  models?: Record<string, ModelScript>;
  /** By exact URL; `{request_id}` in a key matches the job's id. Unlisted URLs get placeholder bytes. */
  downloads?: Record<string, DownloadRule>;
  /** Apply the client's text sniffing to untyped errors (`request failed: …timeout…` → 75). Default false. */
  sniffErrors?: boolean;
  /** `result` of an unfinished job: the record with exit 0 (default), or HTTP 400 (exit 65). */
  resultBeforeDone?: 'record' | 'http-400';
  /** Behave as an early 0.1.x client, which downloads output URLs from every host (§5). Default false. */
  downloadAnyHost?: boolean;
  /**
   * How the client reads §5's "last non-empty path segment": of the WHATWG-parsed URL (default;
   * `\` separates, spaces are escaped) or of the URL as written (`a\b.png` -> `a_b.png`).
   */
  fileNames?: 'parsed' | 'written';
}

/** One line of the invocation log ($RUNCOMFY_STANDIN_LOG), written when a process ends. */
export interface LogRecord {
  pid: number;
  /** Arguments after the program name. */
  argv: string[];
  cwd: string;
  /** Simulated command (aliases resolved); null for usage errors, help and version. */
  command: 'run' | 'status' | 'result' | 'cancel' | 'unsimulated' | null;
  model: string | null;
  /** The parsed input body of `run`, once it parsed. */
  body: Record<string, unknown> | null;
  /** The job created by `run`, or the id given to status/result/cancel. */
  request_id: string | null;
  /** True when this process created a job: a paid submission. */
  created: boolean;
  /** Which scenario entry and 0-based step this submission took; null if it never reached the API. */
  submission: { entry: string; index: number } | null;
  /** Epoch milliseconds. */
  start: number;
  end: number;
  /** Exit code, or null when killed by `signal`. */
  exit: number | null;
  signal: string | null;
}
