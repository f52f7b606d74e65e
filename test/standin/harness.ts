// A sandbox for tests that run the `runcomfy` stand-in: a temp folder holding the scenario,
// state folder, invocation log and an empty config dir, plus the environment that puts the
// stand-in first on PATH. Pass `env` to execa; read what happened with `readLog()`.
//
//   const standin = createStandin({ scenario: { models: { default: { steps: [75] } } } });
//   const result = await execa('runcomfy', ['run', 'a/b', '--no-wait'], { env: standin.env, reject: false });
//   standin.readLog();   // one LogRecord per finished process
//   standin.cleanup();

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogRecord, Scenario } from './scenario.js';

export type { DownloadRule, ErrorSpec, Fault, LogRecord, ModelScript, Scenario, Step } from './scenario.js';

/** The folder holding the `runcomfy` executable. */
export const standinBinDir = fileURLToPath(new URL('./bin', import.meta.url));

export interface StandinOptions {
  /** The scenario to start with. Default `{}`: the built-in behaviour (success, short durations). */
  readonly scenario?: Scenario;
  /** RUNCOMFY_TOKEN. Default "standin-token"; null = no token anywhere (the client exits 77). */
  readonly token?: string | null;
  /** Extra environment variables, applied last. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Standin {
  /** The sandbox root (a fresh temp folder); handy as a cwd or for output dirs. */
  readonly dir: string;
  /** The folder holding `runcomfy`; already first on PATH in `env`. */
  readonly binDir: string;
  /**
   * A complete environment for child processes: process.env plus the stand-in's variables. It
   * overrides (never deletes) inherited ones, so execa's default `extendEnv: true` is fine.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly scenarioPath: string;
  readonly statePath: string;
  readonly logPath: string;
  /** RUNCOMFY_CONFIG_DIR: empty at first; write token.json here to test the token file. */
  readonly configDir: string;
  /** Replace the scenario. Submission counters live in the state folder and are not reset. */
  writeScenario(scenario: Scenario): void;
  /** Every log record so far, in the order the processes ended. */
  readLog(): LogRecord[];
  /** Remove the sandbox. */
  cleanup(): void;
}

export function createStandin(options: StandinOptions = {}): Standin {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runcomfy-standin-test-'));
  const scenarioPath = path.join(dir, 'scenario.json');
  const statePath = path.join(dir, 'state');
  const logPath = path.join(dir, 'invocations.jsonl');
  const configDir = path.join(dir, 'config');
  fs.mkdirSync(configDir);

  const writeScenario = (scenario: Scenario): void => {
    // Write-then-rename: a stand-in process starting meanwhile sees the old or the new file.
    const temp = `${scenarioPath}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(scenario, null, 2));
    fs.renameSync(temp, scenarioPath);
  };
  writeScenario(options.scenario ?? {});

  const env: Record<string, string | undefined> = {
    ...process.env,
    PATH: [standinBinDir, process.env.PATH ?? ''].join(path.delimiter),
    // Empty counts as unset for the client; the config dir is empty, so null means "no token".
    RUNCOMFY_TOKEN: options.token === null ? '' : (options.token ?? 'standin-token'),
    RUNCOMFY_CONFIG_DIR: configDir,
    // A developer's own setting must not leak in; empty means the default base.
    RUNCOMFY_MODEL_API_BASE: '',
    RUNCOMFY_STANDIN_SCENARIO: scenarioPath,
    RUNCOMFY_STANDIN_STATE: statePath,
    RUNCOMFY_STANDIN_LOG: logPath,
  };
  Object.assign(env, options.env);

  return {
    dir,
    binDir: standinBinDir,
    env: Object.fromEntries(
      Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ),
    scenarioPath,
    statePath,
    logPath,
    configDir,
    writeScenario,
    readLog: () => readLog(logPath),
    cleanup: () => {
      stopLeftovers(statePath);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Kills stand-in processes of this sandbox that are still running: a submit scripted to hang
 * outlives a runner that was killed or left at once (a submit is never killed with its runner,
 * so that it can still record the id of a job it created). The real client's own API timeout
 * ends such a process; the stand-in's `hang` never does. Linux only (reads /proc).
 */
function stopLeftovers(statePath: string): void {
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return;
  }
  const mark = `RUNCOMFY_STANDIN_STATE=${statePath}\0`;
  for (const pid of pids) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/environ`, 'utf8').includes(mark)) continue;
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

function readLog(logPath: string): LogRecord[] {
  if (!fs.existsSync(logPath)) return [];
  return fs
    .readFileSync(logPath, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as LogRecord);
}
