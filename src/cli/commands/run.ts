import { randomUUID } from 'node:crypto';
import { join, relative, resolve } from 'node:path';
import { isCI } from 'ci-info';
import type { Backend } from '../../backends/backend.js';
import { RuncomfyBackend } from '../../backends/runcomfy/backend.js';
import { RuncomfyClient } from '../../backends/runcomfy/client.js';
import { buildPlan } from '../../plan/plan.js';
import { makeRedactor } from '../../policy/redact.js';
import { analyzeRecipeFile } from '../../recipe/analyze.js';
import { exitCategory } from '../../recipe/diagnostic.js';
import { renderSummary } from '../../report/format.js';
import { JsonReporter } from '../../report/json-reporter.js';
import { PlainReporter } from '../../report/plain-reporter.js';
import { TtyReporter } from '../../report/tty-reporter.js';
import { EVENT_SCHEMA_VERSION, type RunEvent, type RunObserver } from '../../run/events.js';
import { Executor, type ExecutionResult } from '../../run/executor.js';
import { isTransient } from '../../run/retry.js';
import { RunRecord, runFolderName } from '../../state/run-record.js';
import { version } from '../../version.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import { wantsColor, type CliIo } from '../io.js';
import type { RecipeOptions } from '../options.js';
import { loadCatalog, printDiagnostics } from '../recipe-io.js';
import { renderDryRun } from '../../report/dry-run.js';

export type ReporterName = 'tty' | 'plain' | 'json';

export interface RunOptions extends RecipeOptions {
  readonly concurrency: number;
  readonly failFast: boolean;
  readonly dryRun: boolean;
  readonly reporter?: ReporterName;
  readonly out: string;
  readonly runcomfy?: string;
  readonly pollInterval?: number;
}

/** `faceswap-pipe run <recipe>`: check, plan, execute, record, report. */
export async function runCommand(file: string, options: RunOptions, io: CliIo): Promise<number> {
  const catalog = loadCatalog(io, options.catalog);
  if ('exit' in catalog) return catalog.exit;
  const analysis = await analyzeRecipeFile(file, {
    catalog,
    sets: options.set,
    maxBytes: options.maxRecipeSize,
    cwd: io.cwd,
  });
  printDiagnostics(io, analysis.diagnostics);
  if (!analysis.recipe) return exitCodeFor(exitCategory(analysis.diagnostics));
  const plan = buildPlan(analysis.recipe, catalog);
  const redact = makeRedactor(io.env);
  const client = new RuncomfyClient({
    executable: options.runcomfy ?? io.env['FACESWAP_RUNCOMFY'] ?? 'runcomfy',
    env: io.env,
    cwd: io.cwd,
    redact,
  });

  if (options.dryRun) {
    io.stdout.write(renderDryRun(plan, client));
    return ExitCode.ok;
  }

  let clientVersion: string | null = null;
  if (plan.stages.some((s) => s.backend === 'runcomfy')) {
    clientVersion = (await client.version()) ?? null;
    if (clientVersion === null) {
      io.stderr.write(
        `faceswap-pipe: error: cannot run the runcomfy client "${options.runcomfy ?? io.env['FACESWAP_RUNCOMFY'] ?? 'runcomfy'}".\n` +
          'Install it with `npm i -g @runcomfy/cli`, or name the executable with --runcomfy PATH or FACESWAP_RUNCOMFY.\n',
      );
      return ExitCode.unavailable;
    }
  }

  const startedAt = new Date();
  const outDir = resolve(io.cwd, options.out, analysis.recipe.name);
  const runDir = join(outDir, 'runs', runFolderName(startedAt));
  const runId = randomUUID();
  const record = new RunRecord(
    runDir,
    {
      runId,
      recipe: analysis.recipe,
      recipeFile: file,
      version: version(),
      clientVersion,
      options: {
        concurrency: options.concurrency,
        failFast: options.failFast,
        out: options.out,
        sets: options.set.map((s) => s.name),
      },
      startedAt: startedAt.toISOString(),
    },
    redact,
  );
  const observer = pickReporter(options.reporter, io);
  const emit = (event: RunEvent) => observer.event(event);
  const backend = new RuncomfyBackend(client, {
    pollIntervalMs: options.pollInterval ?? numberFromEnv(io.env['FACESWAP_POLL_INTERVAL_MS']) ?? 2_000,
  });
  const controller = new AbortController();
  const unsubscribe = io.onSignal?.((signal) => {
    if (controller.signal.aborted) return;
    io.stderr.write(
      `\nfaceswap-pipe: ${signal} received; cancelling in-flight jobs (press Ctrl-C again to exit at once)\n`,
    );
    controller.abort();
  });

  emit({
    type: 'run-start',
    time: startedAt.toISOString(),
    schemaVersion: EVENT_SCHEMA_VERSION,
    runId,
    recipe: { name: analysis.recipe.name, file, hash: analysis.recipe.hash },
    stages: plan.stages.map((s) => ({
      id: s.id,
      model: s.model,
      needs: s.dependsOn,
      calls: s.calls ?? null,
    })),
    concurrency: options.concurrency,
    dryRun: false,
  });
  await record.write();
  let execution: ExecutionResult;
  try {
    execution = await new Executor({
      recipe: analysis.recipe,
      plan,
      catalog,
      backendFor: (): Backend => backend,
      outDir,
      concurrency: options.concurrency,
      failFast: options.failFast,
      signal: controller.signal,
      backoff: {
        baseMs: numberFromEnv(io.env['FACESWAP_RETRY_BASE_MS']) ?? 1_000,
        capMs: 60_000,
        random: Math.random,
      },
      emit,
      journal: record,
    }).run();
  } finally {
    unsubscribe?.();
  }

  const code = exitCodeOf(execution);
  await record.finish(execution.status, code);
  const results = plan.stages.map((s) => execution.results.get(s.id)!).filter(Boolean);
  const counts = { succeeded: 0, cached: 0, failed: 0, skipped: 0 };
  for (const r of results) counts[r.status]++;
  const recordPath = relative(io.cwd, record.path) || record.path;
  emit({
    type: 'run-finished',
    time: new Date().toISOString(),
    status: execution.status,
    exitCode: code,
    counts,
    calls: execution.submissions,
    durationMs: Date.now() - startedAt.getTime(),
    record: recordPath,
  });
  await observer.close?.();
  const summary = renderSummary(results, { submissions: execution.submissions, record: recordPath });
  (options.reporter === 'json' ? io.stderr : io.stdout).write(`\n${summary}`);
  return code;
}

/** The exit code of a finished run (README, "Exit codes"). */
export function exitCodeOf(execution: ExecutionResult): number {
  if (execution.status === 'interrupted') return ExitCode.interrupted;
  if (execution.unauthorized) return ExitCode.noPermission;
  const failures = [...execution.results.values()].flatMap((r) => (r.status === 'failed' ? [r.failure] : []));
  if (failures.length === 0) return ExitCode.ok;
  if (failures.some((f) => f.reason === 'client-missing')) return ExitCode.unavailable;
  // Only retryable failures whose retries ran out: a re-run is safe and may succeed.
  if (failures.every((f) => f.retryable && isTransient(f.reason))) return ExitCode.tempFail;
  return ExitCode.stageFailed;
}

function pickReporter(name: ReporterName | undefined, io: CliIo): RunObserver {
  const chosen =
    name ?? (io.stdout.isTTY === true && !isCI && wantsColor(io.stdout, io.env) ? 'tty' : 'plain');
  switch (chosen) {
    case 'tty':
      return new TtyReporter();
    case 'plain':
      return new PlainReporter(io.stdout);
    case 'json':
      return new JsonReporter(io.stdout);
  }
}

function numberFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
