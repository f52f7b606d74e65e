// Entry point of the `runcomfy` stand-in: parse, dispatch, map the outcome to an exit code,
// and write the invocation log line. Only `start` touches process.argv / process.exit.

import { parseArgs } from './args.mjs';
import { CliError, exitCodeOf, StandinError } from './errors.mjs';
import { InvocationLog } from './invocation-log.mjs';
import { ModelApi, modelApiBase } from './model-api.mjs';
import { createReporter, writeAll } from './reporter.mjs';
import { downloadRuleFor, loadScenario } from './scenario.mjs';
import { Signals } from './signals.mjs';
import { StateStore, stateDirFor } from './state.mjs';
import { cancelCommand } from './commands/cancel.mjs';
import { resultCommand } from './commands/result.mjs';
import { runCommand } from './commands/run.mjs';
import { statusCommand } from './commands/status.mjs';

/**
 * What every command gets.
 * @typedef {object} CommandContext
 * @property {NodeJS.ProcessEnv} env
 * @property {import('./reporter.mjs').Reporter} reporter
 * @property {InvocationLog} log
 * @property {Signals} signals
 * @property {(token: string) => ModelApi} openApi the simulated API, once the token is known
 * @property {(requestId: string) => (url: string) => object | undefined} downloadRules
 * @property {boolean} downloadAnyHost an early 0.1.x client: downloads from every host (§5)
 * @property {'parsed' | 'written'} fileNames which reading of §5's file naming (see scenario.d.ts)
 */

/** Run the process: called by bin/runcomfy. */
export async function start() {
  const argv = process.argv.slice(2);
  const log = new InvocationLog(process.env.RUNCOMFY_STANDIN_LOG, argv);
  const signals = new Signals((signal) => log.finish({ signal }));
  const code = await main(argv, process.env, { log, signals });
  log.finish({ exit: code });
  process.exit(code);
}

/**
 * @param {string[]} argv arguments after the program name
 * @param {NodeJS.ProcessEnv} env
 * @param {{log: InvocationLog, signals: Signals}} io
 * @returns {Promise<number>} the exit code
 */
export async function main(argv, env, { log, signals }) {
  const parsed = parseArgs(argv);
  switch (parsed.kind) {
    case 'help':
      writeAll(1, parsed.text + '\n');
      return 0;
    case 'version': {
      // A scenario acting as an early 0.1.x client (downloads from any host) says so, as the
      // runner is told to read it (§11: log --version).
      const old = await loadScenario(env)
        .then((s) => s.data.downloadAnyHost === true)
        .catch(() => false);
      writeAll(1, (old ? parsed.text.replace('0.2.0', '0.1.4') : parsed.text) + '\n');
      return 0;
    }
    case 'usage-error':
      writeAll(2, parsed.text + '\n');
      return 2;
    case 'command':
      break;
    default:
      throw new Error(`unexpected parse result ${parsed.kind}`);
  }

  log.note({ command: parsed.name });
  if (parsed.name === 'unsimulated') {
    writeAll(2, `runcomfy-standin: \`runcomfy ${parsed.positional}\` is not simulated by the stand-in\n`);
    return 70;
  }

  const reporter = createReporter({ ...parsed.global, env });
  let scenario;
  try {
    scenario = await loadScenario(env);
    const context = {
      env,
      reporter,
      log,
      signals,
      openApi: (token) => openApi(env, scenario, token, log),
      downloadRules: (requestId) => (url) => downloadRuleFor(scenario, url, requestId),
      downloadAnyHost: scenario.data.downloadAnyHost === true,
      fileNames: scenario.data.fileNames ?? 'parsed',
    };
    return await dispatch(context, parsed);
  } catch (error) {
    if (error instanceof CliError) {
      reporter.error(error);
      return exitCodeOf(error, scenario?.data.sniffErrors === true);
    }
    // Our own controls are broken (bad scenario, state folder): say so loudly, with a code
    // (70, EX_SOFTWARE) that no scripted outcome produces.
    const text = error instanceof StandinError ? error.message : `internal error: ${error?.stack ?? error}`;
    writeAll(2, `runcomfy-standin: ${text}\n`);
    return 70;
  }
}

function dispatch(context, parsed) {
  const id = parsed.positional;
  switch (parsed.name) {
    case 'run':
      return runCommand(context, id, parsed.options);
    case 'status':
      context.log.note({ request_id: id });
      return statusCommand(context, id);
    case 'result':
      context.log.note({ request_id: id });
      return resultCommand(context, id, parsed.options);
    case 'cancel':
      context.log.note({ request_id: id });
      return cancelCommand(context, id);
    default:
      throw new Error(`unknown command ${parsed.name}`);
  }
}

function openApi(env, scenario, token, log) {
  return new ModelApi({
    store: new StateStore(stateDirFor(env, scenario.path)),
    scenario,
    token,
    base: modelApiBase(env),
    events: {
      submission: (submission) => log.note({ submission }),
      jobCreated: (requestId) => log.note({ request_id: requestId, created: true }),
    },
  });
}
