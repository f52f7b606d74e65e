// The simulated Model API (contract §8): submit, status, result and cancel, answered from the
// state folder and the scenario instead of the network. Non-2xx answers are thrown as the
// client's errors (errors.mjs), so commands handle them exactly as the client handles HTTP.

import { httpError, transportError } from './errors.mjs';
import { isTerminal, jobStateAt, resultBody, statusBody } from './lifecycle.mjs';
import { defaultOutput, expandPlaceholders, scriptKeyFor, stepFor } from './scenario.mjs';
import { sleep } from './sleep.mjs';

const DEFAULT_BASE = 'https://model-api.runcomfy.net/v1';

/** RUNCOMFY_MODEL_API_BASE: trimmed, trailing `/` dropped, empty = default (contract §3). */
export function modelApiBase(env) {
  const base = (env.RUNCOMFY_MODEL_API_BASE ?? '').trim().replace(/\/+$/, '');
  return base === '' ? DEFAULT_BASE : base;
}

export class ModelApi {
  #store;
  #scenario;
  #token;
  #events;
  /** The Model API base URL, as the client builds request URLs from it. */
  base;

  /**
   * @param {object} options
   * @param {import('./state.mjs').StateStore} options.store
   * @param {{path?: string, data: object}} options.scenario
   * @param {string} options.token the bearer token; '' is what a server would reject (401)
   * @param {string} options.base
   * @param {{submission?: (info: {entry: string, index: number}) => void,
   *          jobCreated?: (requestId: string) => void}} [options.events] for the invocation log
   */
  constructor({ store, scenario, token, base, events = {} }) {
    this.#store = store;
    this.#scenario = scenario;
    this.#token = token;
    this.#events = events;
    this.base = base;
  }

  /**
   * POST /models/<model id>. Takes the model's next scripted step; a scripted submit error
   * creates no job, `"hang"` never answers, `submitMs` delays the answer after the job exists.
   * @returns {Promise<string>} the request id
   */
  async submit(modelId, body) {
    const url = `${this.base}/models/${modelId}`;
    this.#checkToken('submit', modelId);
    const entry = scriptKeyFor(this.#scenario, modelId);
    const counterName = entry ?? '(built-in)';
    const index = this.#store.nextSubmissionIndex(counterName);
    this.#events.submission?.({ entry: counterName, index });
    const step = stepFor(this.#scenario, entry, index);

    if (step.submit === 'hang') await sleep(Infinity);
    if (step.submit !== 'ok') throw errorFor(step.submit, 'submit', 'POST', url, modelId);

    const requestId = this.#store.newRequestId();
    const output = step.output === undefined ? defaultOutput(modelId, body) : step.output;
    this.#store.createJob({
      request_id: requestId,
      model_id: modelId,
      body,
      submitted_at: Date.now(),
      queue_ms: step.queueMs,
      run_ms: step.runMs,
      queue_position: step.queuePosition,
      final_status: step.status,
      result_status: step.resultStatus ?? null,
      output: expandPlaceholders(output, requestId),
      error: step.error,
      cancelled_at: null,
      faults: step.faults,
      calls: {},
      submission: { entry: counterName, index },
    });
    this.#events.jobCreated?.(requestId);
    if (step.submitMs > 0) await sleep(step.submitMs);
    return requestId;
  }

  /** GET /requests/<id>/status. */
  status(requestId) {
    const job = this.#job(requestId, 'status', 'GET');
    return statusBody(job, Date.now(), this.base);
  }

  /** GET /requests/<id>/result. Unfinished: the record, or HTTP 400 if the scenario says so. */
  result(requestId) {
    const job = this.#job(requestId, 'result', 'GET');
    const now = Date.now();
    if (this.#scenario.data.resultBeforeDone === 'http-400' && !isTerminal(jobStateAt(job, now).status)) {
      throw httpError(400, 'result', { body: '{"error":"request is not completed yet"}' });
    }
    return resultBody(job, now);
  }

  /** POST /requests/<id>/cancel: only a queued job is cancelled; others are `not_cancellable`. */
  cancel(requestId) {
    this.#job(requestId, 'cancel', 'POST');
    const { answer } = this.#store.updateJob(requestId, (job) => {
      const now = Date.now();
      const { status } = jobStateAt(job, now);
      if (status !== 'in_queue') return { status, outcome: 'not_cancellable' };
      job.cancelled_at = now;
      return { status: 'cancelled', outcome: 'cancelled' };
    });
    return { request_id: requestId, ...answer };
  }

  /** The job behind a request call, after the token check, the 404 check and scripted faults. */
  #job(requestId, label, method) {
    const url = `${this.base}/requests/${requestId}/${label}`;
    this.#checkToken(label);
    const job = this.#store.readJob(requestId);
    if (job === undefined) throw httpError(404, label, { body: '{"error":"request not found"}' });
    if (!job.faults.some((fault) => fault.on === label)) return job;

    // Count this call across processes; a fault scripted for this call number answers instead.
    const { job: counted } = this.#store.updateJob(requestId, (record) => {
      record.calls[label] = (record.calls[label] ?? 0) + 1;
    });
    const number = counted.calls[label];
    const fault = counted.faults.find((f) => f.on === label && f.calls.includes(number));
    if (fault) throw errorFor(fault.error, label, method, url);
    return counted;
  }

  #checkToken(label, modelId) {
    if (this.#token === '') throw httpError(401, label, { modelId });
  }
}

/** Bodies servers plausibly send with a scripted status when the scenario gives none. */
function defaultBody(status) {
  if (status === 400 || status === 422) return '{"detail":"input does not match the model schema"}';
  if (status === 402) return '{"error":"insufficient credits"}';
  return '';
}

/**
 * The client's error for a scripted failure.
 * @param {{kind: 'http', status: number, body?: string} | {kind: 'timeout' | 'transport'}} spec
 */
function errorFor(spec, label, method, url, modelId) {
  if (spec.kind !== 'http') return transportError(spec.kind, method, url);
  return httpError(spec.status, label, { modelId, body: spec.body ?? defaultBody(spec.status) });
}
