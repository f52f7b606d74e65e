// A job's lifecycle as a pure function of its record and the wall clock (contract §8):
//
//   in_queue  for queue_ms after submission (null = forever; cancellable),
//   in_progress for run_ms more                  (null = forever; not cancellable),
//   then its scripted terminal status: completed | failed | cancelled.
//
// A cancel while queued stamps `cancelled_at`, which wins from then on. No process sleeps on a
// job's behalf: any process, at any time, computes the same answer from the record.

/**
 * @typedef {object} JobRecord what state.mjs stores per request
 * @property {string} request_id
 * @property {string} model_id
 * @property {unknown} body the submitted input
 * @property {number} submitted_at epoch ms
 * @property {number | null} queue_ms
 * @property {number | null} run_ms
 * @property {number} queue_position reported at submission; counts down to 1 while queued
 * @property {'completed' | 'failed' | 'cancelled'} final_status
 * @property {unknown} output result output (placeholders already expanded)
 * @property {unknown} error result error of a failed job
 * @property {number | null} cancelled_at epoch ms of an accepted cancel
 * @property {{on: string, calls: number[], error: object}[]} faults scripted API errors
 * @property {Record<string, number>} calls API calls counted so far, by kind (for faults)
 */

/**
 * @param {JobRecord} job
 * @param {number} now epoch ms
 * @returns {{status: string, queuePosition: number | null, finishedAt: number | null}}
 */
export function jobStateAt(job, now) {
  if (job.cancelled_at !== null && now >= job.cancelled_at) {
    return { status: 'cancelled', queuePosition: null, finishedAt: job.cancelled_at };
  }
  const elapsed = now - job.submitted_at;
  const queueMs = job.queue_ms;
  if (queueMs === null || elapsed < queueMs) {
    const left = queueMs === null ? 1 : (queueMs - elapsed) / queueMs;
    return {
      status: 'in_queue',
      queuePosition: Math.max(1, Math.ceil(job.queue_position * left)),
      finishedAt: null,
    };
  }
  if (job.run_ms === null || elapsed < queueMs + job.run_ms) {
    return { status: 'in_progress', queuePosition: null, finishedAt: null };
  }
  return {
    status: job.final_status,
    queuePosition: null,
    finishedAt: job.submitted_at + queueMs + job.run_ms,
  };
}

/** Whether a status ends the lifecycle. */
export function isTerminal(status) {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** GET …/requests/<id>/status (contract §4: these five keys, missing = null). */
export function statusBody(job, now, apiBase) {
  const state = jobStateAt(job, now);
  return {
    request_id: job.request_id,
    status: state.status,
    queue_position: state.queuePosition,
    status_url: `${apiBase}/requests/${job.request_id}/status`,
    result_url: `${apiBase}/requests/${job.request_id}/result`,
  };
}

/** GET …/requests/<id>/result: the whole record, unfinished ones included (contract §4, §8). */
export function resultBody(job, now) {
  const state = jobStateAt(job, now);
  // A finished job's record may say otherwise than its status call (scenario `resultStatus`).
  const status = isTerminal(state.status) && job.result_status ? job.result_status : state.status;
  return {
    request_id: job.request_id,
    status,
    output: status === 'completed' ? job.output : null,
    error: status === 'failed' ? job.error : null,
    created_at: new Date(job.submitted_at).toISOString(),
    finished_at: state.finishedAt === null ? null : new Date(state.finishedAt).toISOString(),
  };
}
