import fs from 'node:fs';
import path from 'node:path';
import { isMap, parseDocument } from 'yaml';
import { createStandin, type LogRecord, type Scenario, type Standin } from '../standin/harness.js';
import { runCli, type CliResult } from './cli.js';

/**
 * Knobs that keep runner tests fast on a shared box: quick polls, short backoff, and a submit
 * that has not answered 10 s after its attempt was stopped is killed (75 s in real runs; a
 * stand-in process on a loaded machine can take seconds to answer, and killing it would lose
 * the job it created). Tests of a submit that never answers set a shorter grace themselves.
 */
export const FAST_ENV = {
  FACESWAP_POLL_INTERVAL_MS: '40',
  FACESWAP_RETRY_BASE_MS: '20',
  FACESWAP_SUBMIT_GRACE_MS: '10000',
} as const;

export interface RunnerSandbox {
  readonly standin: Standin;
  /**
   * Writes a recipe into the sandbox and returns its path relative to the sandbox. Unless the
   * recipe has a `consent:` block or `consent: false` is passed, a test consent record is added
   * (see {@link consented}): every face-swap stage must carry one, and these tests are about
   * the runner.
   */
  recipe(name: string, text: string, options?: { consent?: boolean }): string;
  /** Runs the CLI in-process with the sandbox as cwd and the stand-in first on PATH. */
  run(argv: readonly string[], env?: Record<string, string>): Promise<CliResult>;
  /** `run` submissions that created a job, per model. */
  submissions(): LogRecord[];
  readJson(relativePath: string): unknown;
  /** The newest run record of a recipe. */
  runRecord(recipeName: string): RunRecordJson;
  cleanup(): void;
}

export interface RunRecordJson {
  status: string;
  exitCode: number;
  endedAt: string | null;
  submissions: number;
  inFlight: { stage: string; item: number | null; requestId: string }[];
  stages: Record<
    string,
    {
      status: string;
      attempts: {
        attempt: number;
        requestId: string | null;
        reattached: boolean;
        outcome: string;
        reason?: string;
        message?: string;
        exitCode?: number;
        stderrTail?: string;
      }[];
      outputs: unknown;
      files: string[];
      failure?: { reason: string; message: string };
      reason?: string;
      message?: string;
      input: unknown;
    }
  >;
}

export function sandbox(scenario: Scenario = {}, options: { token?: string | null } = {}): RunnerSandbox {
  const standin = createStandin({ scenario, ...(options.token !== undefined && { token: options.token }) });
  const sb: RunnerSandbox = {
    standin,
    recipe(name, text, options = {}) {
      const file = path.join(standin.dir, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, options.consent === false ? text : consented(text));
      return name;
    },
    run(argv, env = {}) {
      // A run that hangs would only show as a test timeout; this says what was going on first.
      const watchdog = setTimeout(() => console.error(describeStuck(standin, argv)), STUCK_AFTER_MS);
      watchdog.unref();
      return runCli(argv, { cwd: standin.dir, env: { ...standin.env, ...FAST_ENV, ...env } }).finally(() =>
        clearTimeout(watchdog),
      );
    },
    submissions() {
      return standin.readLog().filter((r) => r.command === 'run' && r.created);
    },
    readJson(relativePath) {
      return JSON.parse(fs.readFileSync(path.join(standin.dir, relativePath), 'utf8')) as unknown;
    },
    runRecord(recipeName) {
      const runs = path.join(standin.dir, 'outputs', recipeName, 'runs');
      const newest = fs.readdirSync(runs).sort().at(-1)!;
      return JSON.parse(fs.readFileSync(path.join(runs, newest, 'run.json'), 'utf8')) as RunRecordJson;
    },
    cleanup() {
      standin.cleanup();
    },
  };
  return sb;
}

/** Well before the test timeout (60 s), and far beyond what any sandboxed run takes. */
const STUCK_AFTER_MS = 40_000;

/**
 * What a run still going after {@link STUCK_AFTER_MS} had done: the client calls that finished
 * (from the invocation log), the stand-in processes still alive, and the runner's state files.
 */
function describeStuck(standin: Standin, argv: readonly string[]): string {
  const lines = [`sandbox run still going after ${STUCK_AFTER_MS / 1000} s: faceswap-pipe ${argv.join(' ')}`];
  lines.push(`  (${standin.dir})`, '  finished client calls:');
  for (const r of standin.readLog())
    lines.push(
      `    pid ${r.pid} ${r.command ?? '?'} ${r.request_id ?? ''} exit=${r.exit ?? r.signal} ${r.start}..${r.end}`,
    );
  lines.push('  stand-in processes alive:');
  for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (!cmdline.includes('runcomfy')) continue;
      const state = fs
        .readFileSync(`/proc/${pid}/stat`, 'utf8')
        .replace(/^.*\) /, '')
        .split(' ')[0];
      lines.push(`    pid ${pid} state ${state}: ${cmdline.trim()}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  lines.push('  files:');
  const walk = (dir: string, depth: number): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      lines.push(`    ${path.relative(standin.dir, full)}${entry.isDirectory() ? '/' : ''}`);
      if (entry.isDirectory() && depth < 6) walk(full, depth + 1);
    }
  };
  try {
    walk(standin.dir, 0);
  } catch {
    // the sandbox is gone
  }
  return lines.join('\n');
}

/**
 * The recipe with a test consent record: one subject (`ana`) named by every stage, and an asset
 * rule covering the example URLs. Recipes that already have a `consent:` block are unchanged.
 */
export function consented(text: string): string {
  const doc = parseDocument(text);
  if (doc.has('consent') || !doc.has('stages')) return text;
  const stages = doc.get('stages');
  if (isMap(stages)) {
    for (const pair of stages.items) {
      const stage = pair.value;
      if (isMap(stage) && !stage.has('subjects'))
        stage.set('subjects', doc.createNode(['ana'], { flow: true }));
    }
  }
  doc.set(
    'consent',
    doc.createNode({
      subjects: { ana: { release: 'REL-TEST-0001' } },
      assets: [{ match: 'https://assets.example.com/**', rights: 'test assets' }],
      disclosure: { label: 'AI-generated' },
    }),
  );
  return doc.toString({ lineWidth: 0 });
}

export const CHAIN_RECIPE = `version: 1
name: chain
vars:
  still: https://assets.example.com/ana.jpg
  dance: https://assets.example.com/dance.mp4
defaults:
  retries: 2
stages:
  face:
    model: blackforestlabs/flux-1-kontext/pro/edit
    input:
      prompt: Change only the face
      image: \${{ vars.still }}
  motion:
    model: kling/kling-2-6/motion-control-pro
    input:
      character_image_url: \${{ stages.face.outputs.images[0] }}
      reference_video_url: \${{ vars.dance }}
`;

/** Intervals [start, end] of each job as the runner handles it: from its submit to its last client call. */
export function jobIntervals(
  log: readonly LogRecord[],
): Map<string, { model: string; start: number; end: number }> {
  const jobs = new Map<string, { model: string; start: number; end: number }>();
  for (const r of log) {
    if (r.command === 'run' && r.created && r.request_id)
      jobs.set(r.request_id, { model: r.model!, start: r.start, end: r.end });
  }
  for (const r of log) {
    // A job holds its --concurrency slot until its last client call (the result fetch).
    if (r.command !== 'run' && r.request_id && jobs.has(r.request_id)) {
      const job = jobs.get(r.request_id)!;
      job.end = Math.max(job.end, r.end);
    }
  }
  return jobs;
}

/** The most jobs alive at one instant, optionally of one model. */
export function maxOverlap(
  intervals: Iterable<{ model: string; start: number; end: number }>,
  model?: string,
): number {
  const points: [number, number][] = [];
  for (const i of intervals) {
    if (model !== undefined && i.model !== model) continue;
    points.push([i.start, 1], [i.end, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let max = 0;
  for (const [, delta] of points) {
    current += delta;
    max = Math.max(max, current);
  }
  return max;
}
