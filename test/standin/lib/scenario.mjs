// The scenario: what the simulated Model API does, per model, submission after submission.
// Format (README.md, scenario.d.ts):
//
//   { "models": { "<model id>" | "default": { "base": Step, "steps": [Step | number, …],
//                                               "then": "success" | "repeat-last" } },
//     "downloads": { "<url, may contain {request_id}>": { "file": "…" } | { "fail": "http" | "connect" } | { "redirect": "<url>" } },
//     "sniffErrors": false, "resultBeforeDone": "record" | "http-400", "downloadAnyHost": false,
//     "fileNames": "parsed" | "written" }
//
// A model without its own entry uses "default"; without either, the built-in behaviour (success,
// an output that fits the model, short durations). Each submission that reaches the network takes
// the next step of its entry, across processes (the counter lives in the state folder). When the
// steps run out, `then` decides: "success" (default) = `base` alone, i.e. normal success;
// "repeat-last" = the last step again.

import fs from 'node:fs';
import path from 'node:path';
import { StandinError } from './errors.mjs';

/** Built-in step values; `base` and the step override them field by field. */
export const STEP_DEFAULTS = Object.freeze({
  queueMs: 100,
  runMs: 200,
  queuePosition: 1,
  status: 'completed',
  resultStatus: undefined, // undefined = status
  output: undefined, // undefined = defaultOutput(model, body)
  error: 'model execution failed',
  submit: 'ok',
  submitMs: 0,
  faults: [],
});

/** Models whose default output is a video (contract §9); any id mentioning video-ish words too. */
const VIDEO_MODELS = new Set(['community/wan-2-2-animate/api', 'kling/kling-2-6/motion-control-pro']);

/**
 * Read the scenario named by RUNCOMFY_STANDIN_SCENARIO; an empty scenario when unset.
 * @returns {Promise<{path: string | undefined, data: object}>}
 */
export async function loadScenario(env) {
  const file = env.RUNCOMFY_STANDIN_SCENARIO;
  if (!file) return { path: undefined, data: {} };
  const absolute = path.resolve(file);
  let text;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new StandinError(`cannot read scenario ${absolute}: ${error.message}`);
  }
  let data;
  try {
    // YAML is optional; its parser is imported only for .yaml/.yml files to keep startup light.
    data = /\.ya?ml$/i.test(absolute) ? (await import('yaml')).parse(text) : JSON.parse(text);
  } catch (error) {
    throw new StandinError(`cannot parse scenario ${absolute}: ${error.message}`);
  }
  validateScenario(data ?? {}, absolute);
  return { path: absolute, data: data ?? {} };
}

/** The models entry a submission to `modelId` uses: its own, else "default", else none. */
export function scriptKeyFor(scenario, modelId) {
  const models = scenario.data.models ?? {};
  if (Object.hasOwn(models, modelId)) return modelId;
  if (Object.hasOwn(models, 'default')) return 'default';
  return undefined;
}

/**
 * The fully resolved step for the `index`-th (0-based) submission under `key`.
 * @returns {typeof STEP_DEFAULTS & {submit: 'ok' | 'hang' | object}}
 */
export function stepFor(scenario, key, index) {
  const script = key === undefined ? {} : scenario.data.models[key];
  const steps = script.steps ?? [];
  let picked = {};
  if (index < steps.length) picked = steps[index];
  else if (script.then === 'repeat-last' && steps.length > 0) picked = steps[steps.length - 1];
  const step = { ...STEP_DEFAULTS, ...script.base, ...expandShorthand(picked) };
  return { ...step, submit: normalizeSubmit(step.submit), faults: step.faults.map(normalizeFault) };
}

/** Where a download URL's bytes come from, per the scenario's `downloads` map. */
export function downloadRuleFor(scenario, url, requestId) {
  for (const [pattern, rule] of Object.entries(scenario.data.downloads ?? {})) {
    if (pattern.replaceAll('{request_id}', requestId) !== url) continue;
    if (rule.file !== undefined) {
      const base = scenario.path ? path.dirname(scenario.path) : process.cwd();
      return { file: path.resolve(base, rule.file) };
    }
    if (rule.redirect !== undefined) return { redirect: rule.redirect.replaceAll('{request_id}', requestId) };
    return { fail: rule.fail };
  }
  return undefined;
}

/** The built-in output: a video for video models, else `images` (honours a few body fields). */
export function defaultOutput(modelId, body) {
  const base = 'https://files.runcomfy.net/{request_id}';
  if (VIDEO_MODELS.has(modelId) || /video|animate|motion|i2v|t2v/i.test(modelId)) {
    return { video: `${base}/output.mp4` };
  }
  const formats = { png: 'png', jpeg: 'jpg', jpg: 'jpg', webp: 'webp' };
  const extension = formats[body?.output_format] ?? 'png';
  const requested = body?.number_of_images ?? body?.num_images;
  const count = Number.isInteger(requested) && requested > 1 && requested <= 10 ? requested : 1;
  if (count === 1) return { images: [`${base}/result.${extension}`] };
  // Several images share one file name in separate folders, as CDN layouts often do, so the
  // client's `-1`, `-2` suffixes show up.
  return { images: Array.from({ length: count }, (_, i) => `${base}/${i}/result.${extension}`) };
}

/** Replace `{request_id}` in every string of a JSON value. */
export function expandPlaceholders(value, requestId) {
  if (typeof value === 'string') return value.replaceAll('{request_id}', requestId);
  if (Array.isArray(value)) return value.map((item) => expandPlaceholders(item, requestId));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandPlaceholders(v, requestId)]));
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Error specs. Exit-code shorthands pick a canonical cause: 75 → HTTP 429, 69 → 503, 65 → 422,
// 77 → 401, 1 → a transport error (connection refused). "timeout" is a request that timed out
// (75); {"http": N, "body": "…"} is any HTTP answer.

const SHORTHAND_HTTP = { 75: 429, 69: 503, 65: 422, 77: 401 };

/** A step given as a bare exit code means "this submission fails with that code". */
function expandShorthand(step) {
  return typeof step === 'number' ? { submit: step } : step;
}

function normalizeSubmit(submit) {
  return submit === 'ok' || submit === 'hang' ? submit : normalizeError(submit);
}

function normalizeFault(fault) {
  const calls = Array.isArray(fault.call) ? fault.call : [fault.call ?? 1];
  return { on: fault.on, calls, error: normalizeError(fault.error) };
}

/** @returns {{kind: 'http', status: number, body: string | undefined} | {kind: 'timeout' | 'transport'}} */
function normalizeError(spec) {
  if (spec === 1 || spec === 'transport') return { kind: 'transport' };
  if (spec === 'timeout') return { kind: 'timeout' };
  if (typeof spec === 'number') return { kind: 'http', status: SHORTHAND_HTTP[spec], body: undefined };
  return { kind: 'http', status: spec.http, body: spec.body };
}

// ---------------------------------------------------------------------------------------------
// Validation: strict, so a typo in a test's scenario fails loudly (exit 70) instead of silently
// falling back to defaults.

function validateScenario(data, file) {
  const fail = (where, message) => {
    throw new StandinError(`bad scenario ${file}: ${where}: ${message}`);
  };
  expectObject(data, 'top level', fail);
  onlyKeys(
    data,
    ['models', 'downloads', 'sniffErrors', 'resultBeforeDone', 'downloadAnyHost', 'fileNames'],
    'top level',
    fail,
  );
  if (data.sniffErrors !== undefined && typeof data.sniffErrors !== 'boolean') {
    fail('sniffErrors', 'must be a boolean');
  }
  if (data.fileNames !== undefined && data.fileNames !== 'parsed' && data.fileNames !== 'written') {
    fail('fileNames', 'must be "parsed" or "written"');
  }
  if (data.downloadAnyHost !== undefined && typeof data.downloadAnyHost !== 'boolean') {
    fail('downloadAnyHost', 'must be a boolean');
  }
  if (data.resultBeforeDone !== undefined && !['record', 'http-400'].includes(data.resultBeforeDone)) {
    fail('resultBeforeDone', 'must be "record" or "http-400"');
  }
  for (const [model, script] of Object.entries(data.models ?? {})) {
    const where = `models["${model}"]`;
    expectObject(script, where, fail);
    onlyKeys(script, ['base', 'steps', 'then'], where, fail);
    if (script.then !== undefined && !['success', 'repeat-last'].includes(script.then)) {
      fail(`${where}.then`, 'must be "success" or "repeat-last"');
    }
    if (script.base !== undefined) validateStep(script.base, `${where}.base`, fail);
    if (script.steps !== undefined && !Array.isArray(script.steps)) {
      fail(`${where}.steps`, 'must be an array');
    }
    (script.steps ?? []).forEach((step, i) => {
      const at = `${where}.steps[${i}]`;
      if (typeof step === 'number') validateError(step, at, fail);
      else if (step === null || typeof step !== 'object' || Array.isArray(step)) {
        fail(at, 'must be a step object or an exit-code shorthand (1, 65, 69, 75, 77)');
      } else validateStep(step, at, fail);
    });
  }
  for (const [url, rule] of Object.entries(data.downloads ?? {})) {
    const where = `downloads["${url}"]`;
    expectObject(rule, where, fail);
    const ok =
      (typeof rule.file === 'string' && Object.keys(rule).length === 1) ||
      ((rule.fail === 'http' || rule.fail === 'connect') && Object.keys(rule).length === 1) ||
      (typeof rule.redirect === 'string' && Object.keys(rule).length === 1);
    if (!ok) fail(where, 'must be {"file": "<path>"}, {"fail": "http" | "connect"} or {"redirect": "<url>"}');
  }
}

function validateStep(step, where, fail) {
  expectObject(step, where, fail);
  onlyKeys(step, Object.keys(STEP_DEFAULTS), where, fail);
  for (const key of ['queueMs', 'runMs']) {
    if (step[key] !== undefined && step[key] !== null && !(typeof step[key] === 'number' && step[key] >= 0)) {
      fail(`${where}.${key}`, 'must be a number of milliseconds >= 0, or null for "forever"');
    }
  }
  if (step.submitMs !== undefined && !(typeof step.submitMs === 'number' && step.submitMs >= 0)) {
    fail(`${where}.submitMs`, 'must be a number of milliseconds >= 0');
  }
  if (
    step.queuePosition !== undefined &&
    !(Number.isInteger(step.queuePosition) && step.queuePosition >= 1)
  ) {
    fail(`${where}.queuePosition`, 'must be an integer >= 1');
  }
  for (const field of ['status', 'resultStatus']) {
    if (step[field] !== undefined && !['completed', 'failed', 'cancelled'].includes(step[field])) {
      fail(`${where}.${field}`, 'must be "completed", "failed" or "cancelled"');
    }
  }
  if (step.submit !== undefined && step.submit !== 'ok' && step.submit !== 'hang') {
    validateError(step.submit, `${where}.submit`, fail);
  }
  if (step.faults !== undefined) {
    if (!Array.isArray(step.faults)) fail(`${where}.faults`, 'must be an array');
    step.faults.forEach((fault, i) => {
      const at = `${where}.faults[${i}]`;
      expectObject(fault, at, fail);
      onlyKeys(fault, ['on', 'call', 'error'], at, fail);
      if (!['status', 'result', 'cancel'].includes(fault.on)) {
        fail(`${at}.on`, 'must be "status", "result" or "cancel"');
      }
      const calls = Array.isArray(fault.call) ? fault.call : [fault.call ?? 1];
      if (!calls.every((n) => Number.isInteger(n) && n >= 1)) {
        fail(`${at}.call`, 'must be an integer >= 1 or a list of them');
      }
      validateError(fault.error, `${at}.error`, fail);
    });
  }
}

function validateError(spec, where, fail) {
  if (spec === 1 || spec === 'timeout' || spec === 'transport') return;
  if (typeof spec === 'number' && Object.hasOwn(SHORTHAND_HTTP, spec)) return;
  if (
    spec !== null &&
    typeof spec === 'object' &&
    Number.isInteger(spec.http) &&
    spec.http >= 400 &&
    spec.http <= 599
  ) {
    onlyKeys(spec, ['http', 'body'], where, fail);
    if (spec.body !== undefined && typeof spec.body !== 'string') fail(`${where}.body`, 'must be a string');
    return;
  }
  fail(where, 'must be 1, 65, 69, 75, 77, "timeout", "transport" or {"http": 400-599, "body"?: string}');
}

function expectObject(value, where, fail) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(where, 'must be an object');
}

function onlyKeys(object, allowed, where, fail) {
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) fail(where, `unknown key "${key}" (allowed: ${allowed.join(', ')})`);
  }
}
