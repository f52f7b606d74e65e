// Errors as the real client reports them (contract §4, §6).
//
// The client prints an error chain: pretty mode shows `Error: <message>: <cause>: …`, json mode
// only `{"error":"<message>"}`. Its exit code comes either from a *typed* error (HTTP status,
// invalid input, missing token) or, for untyped errors, from sniffing the chain's text.
//
// Sniffing is a quirk (a failed job whose error mentions "timeout" exits 75), so the stand-in
// applies it only when the scenario sets `sniffErrors: true`. Without it, untyped errors use
// `plainCode`: the code the sniffing gives for the message we actually generate (75 for
// timeouts, 1 otherwise), so ordinary scenarios never depend on the switch.

export class CliError extends Error {
  /**
   * @param {string} message top-level message: the only text json mode prints
   * @param {object} [options]
   * @param {string[]} [options.causes] the rest of the chain, outermost first
   * @param {number} [options.code] exit code of a typed error; never sniffed
   * @param {number} [options.plainCode] exit code of an untyped error when sniffing is off (1)
   */
  constructor(message, { causes = [], code, plainCode = 1 } = {}) {
    super(message);
    this.name = 'CliError';
    this.causes = causes;
    this.code = code;
    this.plainCode = plainCode;
  }

  /** `message: cause: …`, as anyhow's `{:#}` prints the chain. */
  get chain() {
    return [this.message, ...this.causes].join(': ');
  }
}

/** A problem with the stand-in's own controls (scenario, state): never a client behaviour. */
export class StandinError extends Error {
  constructor(message) {
    super(message);
    this.name = 'StandinError';
  }
}

/**
 * Exit code for an error, per contract §6.
 * @param {CliError} error
 * @param {boolean} sniff apply the text-sniffing quirk to untyped errors
 */
export function exitCodeOf(error, sniff) {
  if (error.code !== undefined) return error.code;
  if (!sniff) return error.plainCode;
  const text = error.chain.toLowerCase();
  if (text.includes('401') || text.includes('unauthorized') || text.includes('not signed in')) return 77;
  if (text.includes('timed out') || text.includes('timeout') || text.includes('429')) return 75;
  if (text.includes('invalid input json') || text.includes('invalid json')) return 65;
  return 1;
}

/** Exit code of an HTTP status, as the client's typed API error maps it. */
export function exitCodeOfHttp(status) {
  if (status === 401 || status === 403) return 77;
  if (status === 408 || status === 429) return 75;
  if (status >= 500 && status < 600) return 69;
  if (status >= 400 && status < 500) return 65;
  return 1;
}

const REASONS = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** HTTP reason phrase, e.g. `Service Unavailable`; `unknown` when we have none. */
export function reasonOf(status) {
  return REASONS[status] ?? 'unknown';
}

/**
 * A non-2xx answer from the Model API, worded as the client words it (`API error <status>: …`).
 * @param {number} status HTTP status
 * @param {string} label which call: submit, status, result, cancel
 * @param {object} [details]
 * @param {string} [details.modelId] set for submit, whose 404/4xx messages name the model
 * @param {string} [details.body] response body ('' = none)
 */
export function httpError(status, label, { modelId, body = '' } = {}) {
  const error = new CliError(`API error ${status}: ${httpMessage(status, label, modelId, body)}`, {
    code: exitCodeOfHttp(status),
  });
  // Kept for the SIGINT cancel path, whose warning line shows the raw status and body.
  return Object.assign(error, { httpStatus: status, body });
}

function httpMessage(status, label, modelId, body) {
  if (status === 401 || status === 403) {
    return `auth failed (${label}) — run \`runcomfy login\` to refresh, or set RUNCOMFY_TOKEN`;
  }
  if (status === 404) {
    return modelId !== undefined
      ? `model \`${modelId}\` not found. Verify the model_id with \`runcomfy models list\` or at https://www.runcomfy.com/models`
      : `${label} not found`;
  }
  if (status === 400 || status === 422) {
    return modelId !== undefined
      ? `input did not match the model's schema. Check it with \`runcomfy models get ${modelId}\` — server said: ${body}`
      : `${label} HTTP 4xx: ${body}`;
  }
  if (status === 429) return `rate limited; retry in a moment (${label})`;
  return body === '' ? reasonOf(status) : body;
}

/**
 * A request that never got an HTTP answer. The client wraps it as `<METHOD> <url>`; json mode
 * shows only that, which is how a runner recognises a transport error (contract §6).
 * @param {'timeout' | 'transport'} kind
 */
export function transportError(kind, method, url) {
  const sending = `error sending request for url (${url})`;
  return kind === 'timeout'
    ? new CliError(`${method} ${url}`, { causes: [sending, 'operation timed out'], plainCode: 75 })
    : new CliError(`${method} ${url}`, {
        causes: [sending, 'client error (Connect)', 'tcp connect error: Connection refused (os error 111)'],
        plainCode: 1,
      });
}

/** Rust's io::Error text for the errno codes the stand-in can meet while reading files. */
export function ioErrorText(error) {
  const known = {
    ENOENT: 'No such file or directory (os error 2)',
    EACCES: 'Permission denied (os error 13)',
    EISDIR: 'Is a directory (os error 21)',
    ENOTDIR: 'Not a directory (os error 20)',
  };
  return known[error?.code] ?? String(error?.message ?? error);
}
