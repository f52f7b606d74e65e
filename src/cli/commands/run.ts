import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { isCI } from 'ci-info';
import type { Backend } from '../../backends/backend.js';
import { RuncomfyClient } from '../../backends/runcomfy/client.js';
import type { Catalog } from '../../catalog/catalog.js';
import { buildPlan, type Plan } from '../../plan/plan.js';
import { inputPolicyFor, type InputPolicy } from '../../policy/input-guard.js';
import { createProvenanceHook } from '../../policy/provenance.js';
import { makeRedactor } from '../../policy/redact.js';
import { sortDiagnostics, type Diagnostic } from '../../recipe/diagnostic.js';
import type { SetOverride } from '../../recipe/sets.js';
import { makeDir } from '../../util/make-dir.js';
import { writeProblemOf, type WriteProblem } from '../../util/write-problem.js';
import type { Recipe, StageId } from '../../recipe/types.js';
import { renderDiagnostic } from '../../report/diagnostics-text.js';
import { actionsSafeSink, annotation, isGithubActions } from '../../report/github-commands.js';
import { graphOf, readRunDataSync, type GraphNode, type RunData } from '../../report/html/run-data.js';
import { writeRunReport } from '../../report/html/write-run-report.js';
import { fence, renderJobSummary, summaryTargets, writeJobSummary } from '../../report/summary-md.js';
import { renderSummary } from '../../report/format.js';
import { JsonReporter } from '../../report/json-reporter.js';
import { planCache, selectedStages, type CachePlan, type Selection } from '../../run/cache-plan.js';
import { EVENT_SCHEMA_VERSION, type RunEvent, type RunObserver } from '../../run/events.js';
import { Executor, type ExecutionResult } from '../../run/executor.js';
import { inFlightJobs, type RecipeJobs } from '../../run/in-flight.js';
import { isTransient } from '../../run/retry.js';
import { JobStore } from '../../state/job-store.js';
import { acquireLock, checkableByPid, FOREIGN_STALE_MS, type LockOwner } from '../../state/lock.js';
import { recipeOutDir, recipeStateDir, RUNS_FOLDER } from '../../state/paths.js';
import { RunRecord, runFolderName } from '../../state/run-record.js';
import { didYouMean } from '../../util/suggest.js';
import { version } from '../../version.js';
import { ExitCode } from '../exit-codes.js';
import { printDiagnostics } from '../recipe-io.js';
import { wantsColor, type CliIo } from '../io.js';
import type { RecipeOptions } from '../options.js';
import { analyzeForCommand } from '../analyze-for-command.js';
import { refuseOverlappingFolders } from '../state-folders.js';

export type ReporterName = 'tty' | 'plain' | 'json' | 'github';

export interface RunOptions extends RecipeOptions {
  readonly concurrency: number;
  readonly failFast: boolean;
  readonly dryRun: boolean;
  readonly reporter?: ReporterName;
  readonly out: string;
  readonly runcomfy?: string;
  readonly pollInterval?: number;
  /** Where state lives (default: `.faceswap/` next to the recipe). */
  readonly stateDir?: string;
  /** `--force` alone (true) ignores the cache for every stage; `--force <stage>` for the named ones. */
  readonly force?: true | readonly string[];
  /** False with `--no-cache`. */
  readonly cache: boolean;
  readonly only?: readonly string[];
  readonly from?: string;
  readonly until?: string;
  /** Also write the job summary (Markdown) here; under GitHub Actions it also goes to $GITHUB_STEP_SUMMARY. */
  readonly summary?: string;
  /** Write a JUnit XML report here. */
  readonly junit?: string;
}

/** `faceswap-pipe run <recipe>`: check, plan, consult the cache, execute, record, report. */
export async function runCommand(file: string, options: RunOptions, io: CliIo): Promise<number> {
  // The documented variable: a value that is no number of milliseconds is a usage error, not
  // silently the default (0 stays allowed: a test harness polls as fast as the client answers).
  const pollEnv = io.env['FACESWAP_POLL_INTERVAL_MS'];
  if (options.pollInterval === undefined && pollEnv?.trim() && numberFromEnv(pollEnv) === undefined) {
    io.stderr.write(
      `faceswap-pipe: error: FACESWAP_POLL_INTERVAL_MS=${JSON.stringify(pollEnv)} is not a number of milliseconds; fix or unset it\n`,
    );
    return ExitCode.usage;
  }
  const github = options.reporter === 'github' || isGithubActions(io.env);
  const loaded = await analyzeForCommand(file, options, io, { github, localFiles: 'return' });
  if ('exit' in loaded) {
    if (loaded.diagnostics) await reportRefused(file, loaded.exit, loaded.diagnostics, options, io);
    return loaded.exit;
  }
  const { recipe, catalog } = loaded;
  const plan = buildPlan(recipe, catalog);
  const selection = checkSelection(plan, options, io);
  if (!selection) return ExitCode.usage;
  const redact = makeRedactor(io.env);
  const executable = options.runcomfy ?? io.env['FACESWAP_RUNCOMFY'] ?? 'runcomfy';
  const client = new RuncomfyClient({ executable, env: io.env, cwd: io.cwd, redact });

  const outDir = recipeOutDir({ cwd: io.cwd, out: options.out, recipeName: recipe.name });
  const stateDir = recipeStateDir({
    cwd: io.cwd,
    recipeFile: file,
    recipeName: recipe.name,
    ...(options.stateDir !== undefined && { stateDir: options.stateDir }),
  });
  const overlap = refuseOverlappingFolders(stateDir, outDir, io);
  if (overlap !== undefined) return overlap;
  const inputPolicy = inputPolicyFor(recipe, {
    allowInsecureLocal: options.allowInsecureLocal ?? false,
    recipeDir: dirname(resolve(io.cwd, file)),
  });
  const consultCache = (store: JobStore | undefined) =>
    planCache(
      plan,
      catalog,
      store,
      {
        enabled: options.cache,
        force: forceSet(options.force),
        urlTtlMs: recipe.cacheUrlTtlMs,
        recipeDir: dirname(resolve(io.cwd, file)),
        now: Date.now(),
      },
      outDir,
      selection,
      inputPolicy,
    );

  if (options.dryRun) {
    // What this very command would do: the same selection and cache decisions, read without
    // taking the lock (a dry run writes nothing, and may look while a run is going).
    const cachePlan = await consultCache(options.cache ? new JobStore(stateDir, redact) : undefined);
    const stop =
      reportCachePlan(cachePlan, plan, file, options.set, io)?.code ??
      (await refuseMissingLocalFiles(loaded.missingLocalFiles, cachePlan, file, options, io, github));
    if (stop !== undefined) return stop;
    const { renderDryRun } = await import('../../report/dry-run.js');
    io.stdout.write(renderDryRun(plan, client, cachePlan));
    return ExitCode.ok;
  }

  const lock = await acquireLock(stateDir, `faceswap-pipe run ${file}`);
  if (!lock.acquired) {
    const message =
      `faceswap-pipe: error: another run (pid ${lock.holder.pid} on ${lock.holder.host}, since ${lock.holder.since}) is using the state folder ${relative(io.cwd, stateDir) || stateDir}.\n` +
      'Wait for it to finish and run again; two runs at once could pay for the same jobs twice.\n' +
      (checkableByPid(lock.holder)
        ? ''
        : `A run on another host or in another container that is gone (a killed CI job) stops touching its lock: it is taken over ${FOREIGN_STALE_MS / 1000} s after its last heartbeat.\n`);
    io.stderr.write(message);
    await reportRunRefused(file, ExitCode.tempFail, message, options, io, github);
    return ExitCode.tempFail;
  }
  // Signals are the run's from here to its last report: before, the runner would die with the
  // lock held; after the stages, with the record and reports half written.
  const interrupts = new Interrupts();
  const unsubscribe = io.onSignal?.(
    (signal) => interrupts.first(signal, io),
    () => {
      io.stderr.write(
        interrupts.exitNow
          ? 'faceswap-pipe: exiting now; jobs still running on the service are followed up by the next run\n'
          : 'faceswap-pipe: exiting now, before any job started\n',
      );
      if (interrupts.exitNow) interrupts.exitNow();
      else lock.releaseNow();
    },
  );
  try {
    const store = options.cache ? new JobStore(stateDir, redact) : undefined;
    const cachePlan = await consultCache(store);
    if (lock.tookOverFrom)
      io.stderr.write(await takeoverNote(lock.tookOverFrom, store, { plan, catalog, cache: cachePlan }));
    const blocked = reportCachePlan(cachePlan, plan, file, options.set, io);
    if (blocked) {
      await reportRunRefused(file, blocked.code, blocked.message, options, io, github);
      return blocked.code;
    }
    const stop = await refuseMissingLocalFiles(
      loaded.missingLocalFiles,
      cachePlan,
      file,
      options,
      io,
      github,
    );
    if (stop !== undefined) return stop;
    // Thumbnails shared between runs live beside the job records (not with --no-cache).
    const thumbStore = options.cache ? join(stateDir, 'thumbs') : undefined;
    return await execute({
      file,
      github,
      catalog,
      options,
      io,
      plan,
      cachePlan,
      store,
      client,
      outDir,
      redact,
      inputPolicy,
      thumbStore,
      releaseLockNow: lock.releaseNow,
      interrupts,
    });
  } finally {
    unsubscribe?.();
    await lock.release();
  }
}

/**
 * Says what becomes of the jobs a run that is gone (killed) left in flight: those this run's
 * stages ask for are followed up; those no stage asks for any more (the recipe was edited
 * since) are not, and nothing is promised of them.
 */
async function takeoverNote(
  from: LockOwner,
  store: JobStore | undefined,
  recipe: RecipeJobs,
): Promise<string> {
  const head = `faceswap-pipe: note: took over the lock of a run that is gone (pid ${from.pid}, since ${from.since})`;
  if (!store) return `${head}; with --no-cache, jobs left in flight are not followed up\n`;
  const { followed, orphaned } = await inFlightJobs(store, () => Promise.resolve(recipe));
  if (followed.length + orphaned.length === 0) return `${head}; no job was left in flight\n`;
  const one = orphaned.length === 1;
  return (
    head +
    (followed.length > 0 ? '; jobs left in flight that the stages of this run ask for are followed up' : '') +
    (orphaned.length > 0
      ? `; ${orphaned.length} job${one ? '' : 's'} in flight that no stage asks for any more ${one ? 'is' : 'are'} not followed up (faceswap-pipe status lists ${one ? 'it' : 'them'})`
      : '') +
    '\n'
  );
}

/**
 * What a signal does while `run` holds the lock. The first asks the run to stop (the executor
 * sees the abort, at its start or while stages run; after them, the record and reports are
 * finished anyway); a second exits at once through `exitNow`, which each phase sets.
 */
class Interrupts {
  readonly #controller = new AbortController();
  readonly signal = this.#controller.signal;
  phase: 'starting' | 'running' | 'finishing' = 'starting';
  /** What a second signal saves before the process exits (synchronously). */
  exitNow: (() => void) | undefined;
  /** Shows the first signal's message where the reporter draws (the terminal view holds stderr back). */
  notice: ((text: string) => void) | undefined;

  first(signal: string, io: CliIo): void {
    if (this.signal.aborted) return;
    this.#controller.abort();
    const what =
      this.phase === 'starting'
        ? 'stopping before any job starts'
        : this.phase === 'running'
          ? 'cancelling in-flight jobs'
          : 'finishing the run record and reports';
    const text = `${signal} received; ${what} (press Ctrl-C again to exit at once)`;
    io.stderr.write(`\nfaceswap-pipe: ${text}\n`);
    this.notice?.(text);
  }
}

/**
 * A local input file that names nothing, in a stage this run will submit, stops the run before
 * anything runs (66), like `validate`; in a stage that is cached or not selected it is not needed.
 */
async function refuseMissingLocalFiles(
  missing: readonly { readonly stage: string; readonly diagnostic: Diagnostic }[],
  cachePlan: CachePlan,
  file: string,
  options: RunOptions,
  io: CliIo,
  github: boolean,
): Promise<number | undefined> {
  const needed = missing
    .filter((m) => cachePlan.decisions.get(m.stage as StageId)?.kind === 'run')
    .map((m) => m.diagnostic);
  if (needed.length === 0) return undefined;
  printDiagnostics(io, needed, true, { github });
  await reportRefused(file, ExitCode.noInput, needed, options, io);
  return ExitCode.noInput;
}

/**
 * Prints what the cache plan found (unreadable records) and stops the run, with the exit code,
 * when a selected stage needs an upstream stage that is not selected and never ran, or whose
 * cached URLs have expired.
 */
function reportCachePlan(
  cachePlan: CachePlan,
  plan: Plan,
  file: string,
  sets: readonly SetOverride[],
  io: CliIo,
): { readonly code: number; readonly message: string } | undefined {
  for (const problem of cachePlan.problems) io.stderr.write(`faceswap-pipe: warning: ${problem}\n`);
  if (cachePlan.blocked.length === 0) return undefined;
  let message = '';
  // The command to run first keeps the user's --set values: the cache is keyed by them.
  const setArgs = sets.map((s) => ` --set ${shellWord(`${s.name}=${s.value}`)}`).join('');
  for (const { stage, upstream, why } of cachePlan.blocked) {
    const direct = plan.stages.find((s) => s.id === stage)?.dependsOn.includes(upstream) === true;
    const needs = `stage "${stage}" needs the results of stage "${upstream}"${direct ? '' : ' (through the stages between them)'}`;
    const state =
      why === 'missing'
        ? 'which is not selected and has no cached result for its current input'
        : 'which is not selected, and whose cached output URLs are older than cache.url_ttl (the service may have deleted them)';
    // An expired result is still cached: only --force makes that run pay for fresh URLs.
    const first =
      why === 'missing'
        ? `Run it first (faceswap-pipe run ${file}${setArgs} --until ${upstream})`
        : `Run it again first (faceswap-pipe run ${file}${setArgs} --force ${upstream} --until ${upstream})`;
    message += `faceswap-pipe: error: ${needs}, ${state}.\n${first} or widen the selection.\n`;
  }
  io.stderr.write(message);
  return { code: ExitCode.dataError, message };
}

/**
 * A recipe refused before anything ran still gets the CI outputs asked for: --junit (one
 * failed test case, `validate`) and the job summary (GITHUB_STEP_SUMMARY and/or --summary), so
 * a pipeline's test report and summary say why, not only the log. Best effort: a file that
 * cannot be written is a warning; the exit code stays the refusal's.
 */
async function reportRefused(
  file: string,
  exitCode: number,
  diagnostics: readonly Diagnostic[],
  options: RunOptions,
  io: CliIo,
): Promise<void> {
  const text = sortDiagnostics(diagnostics)
    .map((d) => renderDiagnostic(d))
    .join('');
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  await reportRefusedText(file, exitCode, text, errors, options, io);
}

/**
 * A run refused before any stage ran for a reason that is not in the recipe's text (a stage the
 * selection needs never ran, the client is missing, another run holds the lock): the same CI
 * outputs as a refused recipe, plus an annotation under GitHub Actions. `message` is what was
 * printed on stderr.
 */
async function reportRunRefused(
  file: string,
  exitCode: number,
  message: string,
  options: RunOptions,
  io: CliIo,
  github: boolean,
): Promise<void> {
  if (github)
    io.stderr.write(`${annotation('error', message.trimEnd(), { title: 'faceswap-pipe: run refused' })}\n`);
  await reportRefusedText(file, exitCode, message, 1, options, io, 'run');
}

async function reportRefusedText(
  file: string,
  exitCode: number,
  text: string,
  errors: number,
  options: RunOptions,
  io: CliIo,
  what: 'recipe' | 'run' = 'recipe',
): Promise<void> {
  const write = async (what: string, path: string, content: string, append: boolean) => {
    try {
      await makeDir(dirname(path));
      await (append ? appendFile(path, content) : writeFile(path, content));
    } catch (cause) {
      io.stderr.write(
        `faceswap-pipe: warning: could not write ${what} ${path}: ${(cause as Error).message}\n`,
      );
    }
  };
  if (options.junit !== undefined) {
    const { renderRefusedJunit } = await import('../../report/junit.js');
    await write(
      'the JUnit report',
      resolve(io.cwd, options.junit),
      renderRefusedJunit(file, exitCode, text, errors, what),
      false,
    );
  }
  const lines = text.split('\n');
  // 80 lines of at most 1,000 characters: GitHub drops a step summary over 1 MiB whole, and a
  // diagnostic quotes its recipe line, which may be megabytes long.
  const cutLine = (l: string) => (l.length > 1_000 ? `${l.slice(0, 1_000)} …` : l);
  const shown = (
    lines.length > 80
      ? [...lines.slice(0, 80), `… ${lines.length - 80} more lines (faceswap-pipe validate ${file})`]
      : lines
  ).map(cutLine);
  const summary =
    `### faceswap-pipe: ${file} ❌ refused\n\nThe ${what} was refused before anything ran (exit ${exitCode}): ${errors} problem${errors === 1 ? '' : 's'}.\n\n` +
    // Sized to the text: a diagnostic may quote a recipe line holding backticks.
    `${fence(shown.join('\n').trimEnd(), '', 'text')}\n`;
  const targets = summaryTargets({
    ...(options.summary !== undefined && { file: options.summary }),
    env: io.env,
    cwd: io.cwd,
  });
  for (const t of targets) await write('the job summary', t.path, summary, t.append);
}

/** A word as a POSIX shell reads it: quoted when it holds anything but plain characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

interface ExecuteContext {
  readonly file: string;
  /** Under GitHub Actions (or --reporter github): refusals are annotated too. */
  readonly github: boolean;
  readonly inputPolicy: InputPolicy;
  readonly catalog: Catalog;
  readonly options: RunOptions;
  readonly io: CliIo;
  readonly plan: Plan;
  readonly cachePlan: CachePlan;
  readonly store: JobStore | undefined;
  readonly client: RuncomfyClient;
  readonly outDir: string;
  readonly redact: (text: string) => string;
  readonly thumbStore: string | undefined;
  /** Releases the state folder's lock synchronously (the process exits at once). */
  readonly releaseLockNow: () => void;
  readonly interrupts: Interrupts;
}

async function execute(ctx: ExecuteContext): Promise<number> {
  const { file, options, io, plan, cachePlan, client, outDir, redact } = ctx;
  const recipe = plan.recipe;
  const runs = (backend: Plan['stages'][number]['backend']) =>
    plan.stages.some((s) => s.backend === backend && cachePlan.decisions.get(s.id)?.kind === 'run');
  const willCall = runs('runcomfy');
  let clientVersion: string | null = null;
  if (willCall) {
    // Only when something will be called: a fully cached run makes no client call at all.
    clientVersion = (await client.version()) ?? null;
    if (clientVersion === null) {
      const message =
        `faceswap-pipe: error: cannot run the runcomfy client "${options.runcomfy ?? io.env['FACESWAP_RUNCOMFY'] ?? 'runcomfy'}".\n` +
        'Install it with `npm i -g @runcomfy/cli`, or name the executable with --runcomfy PATH or FACESWAP_RUNCOMFY.\n';
      io.stderr.write(message);
      await reportRunRefused(file, ExitCode.unavailable, message, options, io, ctx.github);
      return ExitCode.unavailable;
    }
  }

  // The offline engine's video model needs ffmpeg and ffprobe on PATH: said before anything
  // runs, as a missing client is (69), not as a stage failure after the stages before it.
  const videoStage = plan.stages.find(
    (s) => s.model === 'local/face-swap-video' && cachePlan.decisions.get(s.id)?.kind === 'run',
  );
  if (videoStage) {
    const { ffmpegAvailable } = await import('../../backends/local/ffmpeg.js');
    if (!(await ffmpegAvailable())) {
      const message =
        `faceswap-pipe: error: stage "${videoStage.id}" runs local/face-swap-video, which needs ffmpeg and ffprobe on PATH, and they are not there.\n` +
        'Install them (Debian/Ubuntu: apt-get install ffmpeg), or route the stage to a hosted model (--engine runcomfy).\n';
      io.stderr.write(message);
      await reportRunRefused(file, ExitCode.unavailable, message, options, io, ctx.github);
      return ExitCode.unavailable;
    }
  }

  const startedAt = new Date();
  const runDir = join(outDir, RUNS_FOLDER, runFolderName(startedAt));
  const runId = randomUUID();
  const record = new RunRecord(
    runDir,
    {
      runId,
      recipe,
      recipeFile: file,
      version: version(),
      clientVersion,
      options: {
        concurrency: options.concurrency,
        failFast: options.failFast,
        out: options.out,
        sets: options.set.map((s) => s.name),
        cache: options.cache,
        force: options.force ?? false,
        ...(options.only && { only: options.only }),
        ...(options.from && { from: options.from }),
        ...(options.until && { until: options.until }),
      },
      startedAt: startedAt.toISOString(),
    },
    redact,
  );
  const observer = await pickReporter(options.reporter, io, recipe);
  // Loaded now when asked for: a second Ctrl-C writes the report synchronously, with no time to
  // load a module then.
  const junitModule = options.junit === undefined ? undefined : await import('../../report/junit.js');
  const provenance = createProvenanceHook({
    recipe,
    recipeFile: file,
    recipeDir: dirname(resolve(io.cwd, file)),
    outDir,
    runDir,
    runId,
    version: version(),
    env: io.env,
    redact,
  });
  const emit = (event: RunEvent) => observer.event(event);
  // The grace periods are the contract's timeouts; the variables exist so tests need not wait them out.
  const submitGraceMs = numberFromEnv(io.env['FACESWAP_SUBMIT_GRACE_MS']);
  const notFoundGraceMs = numberFromEnv(io.env['FACESWAP_NOT_FOUND_GRACE_MS']);
  // Each backend's code is loaded only when one of its stages runs: a cached re-run loads neither.
  const hosted = willCall
    ? new (await import('../../backends/runcomfy/backend.js')).RuncomfyBackend(client, {
        pollIntervalMs: options.pollInterval ?? numberFromEnv(io.env['FACESWAP_POLL_INTERVAL_MS']) ?? 2_000,
        ...(submitGraceMs !== undefined && { submitGraceMs }),
        ...(notFoundGraceMs !== undefined && { notFoundGraceMs }),
        // `runcomfy 0.1.4 (…)`: early 0.1.x clients download from every host (contract section 5).
        anyHostClient: clientVersion !== null && /^runcomfy 0\.1\./.test(clientVersion.trim()),
      })
    : undefined;
  // The offline engine starts (and loads its model) only when a local stage first runs.
  const local = runs('local')
    ? new (await import('../../backends/local/backend.js')).LocalBackend(dirname(resolve(io.cwd, file)), {
        allowInsecureLocal: options.allowInsecureLocal ?? false,
      })
    : undefined;
  const { interrupts } = ctx;
  interrupts.phase = 'running';
  interrupts.notice = (text) => observer.notice?.(text);
  interrupts.exitNow = () => {
    // Exiting at once: the record says so (not "running" forever), and the lock goes with us.
    try {
      record.abandon();
    } finally {
      ctx.releaseLockNow();
      observer.abandon?.();
    }
    try {
      void observer.close?.();
    } catch {
      // the reporter's last lines are best effort
    }
    // GitHub's cancel sends SIGINT, then SIGTERM 7.5 s later: the CI outputs asked for are
    // still written, from the record just abandoned (the contact sheet is left to `report`).
    writeReportsNow({
      runDir: dirname(record.path),
      graph: graphOf(plan),
      options,
      io,
      junit: junitModule,
    });
  };

  emit({
    type: 'run-start',
    time: startedAt.toISOString(),
    schemaVersion: EVENT_SCHEMA_VERSION,
    runId,
    recipe: { name: recipe.name, file, hash: recipe.hash },
    stages: plan.stages.map((s) => ({
      id: s.id,
      model: s.model,
      needs: s.dependsOn,
      calls: s.calls ?? null,
    })),
    concurrency: options.concurrency,
    dryRun: false,
  });
  // The record says "running" before anything is paid for, so a run that cannot write it stops
  // here. A run in which no stage runs (all cached, or unavailable) pays for nothing and a crash
  // loses nothing: its record is written once, at the end (~20 ms of a cached re-run, issue 6).
  const anyRuns = plan.stages.some((s) => cachePlan.decisions.get(s.id)?.kind === 'run');
  if (anyRuns) await record.write();
  let execution: ExecutionResult;
  try {
    execution = await new Executor({
      recipe,
      plan,
      catalog: ctx.catalog,
      backendFor: (model): Backend => {
        const backend = model.backend === 'local' ? local : hosted;
        // The executor runs only the stages the cache plan said run, and those chose the backends.
        if (!backend) throw new Error(`no ${model.backend} backend was prepared for ${model.id}`);
        return backend;
      },
      outDir,
      concurrency: options.concurrency,
      failFast: options.failFast,
      signal: interrupts.signal,
      backoff: {
        baseMs: numberFromEnv(io.env['FACESWAP_RETRY_BASE_MS']) ?? 1_000,
        capMs: 60_000,
        random: Math.random,
      },
      emit,
      journal: record,
      beforeRecord: provenance.beforeRecord,
      inputPolicy: ctx.inputPolicy,
      cache: { plan: cachePlan, ...(ctx.store && { store: ctx.store }) },
    }).run();
  } finally {
    await local?.close();
  }
  // The stages are done: a signal now lets the record and the reports be finished, and a
  // second one leaves them as they are (the record says "running" until it is finished).
  interrupts.phase = 'finishing';
  interrupts.exitNow = () => {
    ctx.releaseLockNow();
    observer.abandon?.();
  };

  let code: number = exitCodeOf(execution);
  // Two files, each written atomically and flushed. Each on its own: a full disk may refuse one
  // and not the other, and a run that cannot write its manifest still records how it ended,
  // prints its summary and writes what reports it can.
  const [manifest, finished] = await Promise.allSettled([
    provenance.finishManifest(),
    record.finish(execution.status, code),
  ]);
  const unwritten: WriteProblem[] = execution.cannotWrite ? [execution.cannotWrite] : [];
  if (manifest.status === 'rejected') {
    unwritten.push(writeProblemOrThrow(manifest.reason));
    code = ExitCode.cantCreate;
  }
  let recordWritten = finished.status === 'fulfilled';
  if (!recordWritten || unwritten.length > 0) {
    // Once more, with the exit code the run ends with. The failed write's temporary file is
    // gone by now, which may be the room the record needed.
    try {
      await record.finish(execution.status, code);
      recordWritten = true;
    } catch (cause) {
      unwritten.push(writeProblemOrThrow(cause));
      code = ExitCode.cantCreate;
    }
  }
  const results = plan.stages.map((s) => execution.results.get(s.id)).filter((r) => r !== undefined);
  const counts = { succeeded: 0, cached: 0, failed: 0, skipped: 0 };
  for (const r of results) counts[r.status]++;
  const recordPath = relative(io.cwd, record.path) || record.path;
  emit({
    type: 'run-finished',
    time: new Date().toISOString(),
    status: execution.status,
    exitCode: code,
    counts,
    calls: client.calls,
    durationMs: Date.now() - startedAt.getTime(),
    record: recordPath,
  });
  await observer.close?.();
  const summary = renderSummary(results, {
    submissions: execution.submissions,
    clientCalls: client.calls,
    record: recordWritten ? recordPath : `${recordPath} (not finished: it could not be written)`,
  });
  const out = actionsSafeSink(options.reporter === 'json' ? io.stderr : io.stdout, io.env);
  out.write(`\n${summary}`);
  const reportsWritten = await writeReports({
    runDir: dirname(record.path),
    plan,
    options,
    io,
    out,
    thumbStore: ctx.thumbStore,
    provenance: provenance.records(),
    // The record says how the run ended: 73 for a CI report it could not write, as the process.
    askedFailed: async () => {
      if (code !== ExitCode.ok || !recordWritten) return;
      await record.finish(execution.status, ExitCode.cantCreate).catch(() => undefined);
    },
  });
  // Last, where it is seen: what could not be written, where, and what to do.
  const problems = describeWriteProblems(unwritten);
  if (problems !== '') io.stderr.write(problems);
  const left = execution.leftOnService;
  if (left.length > 0)
    io.stderr.write(
      `faceswap-pipe: note: ${left.length === 1 ? 'a job was' : `${left.length} jobs were`} left running on the service, not cancelled (${left.join(', ')}); the next run follows ${left.length === 1 ? 'it' : 'them'} up instead of paying again\n`,
    );
  // A report the command line asked for (--junit, --summary) that could not be written fails an
  // otherwise good run: a CI job must not lose its test report silently.
  return code === ExitCode.ok && !reportsWritten ? ExitCode.cantCreate : code;
}

/**
 * One error line per file that could not be written; what to do ends the last line it applies
 * to (a full disk refusing three files is one piece of advice, not three).
 */
function describeWriteProblems(problems: readonly WriteProblem[]): string {
  const lines = [...new Set(problems.map((p) => p.reason))].map((reason) => ({
    reason,
    advice: problems.find((p) => p.reason === reason)!.advice,
  }));
  return lines
    .map(({ reason, advice }, i) => {
      const last = !lines.slice(i + 1).some((l) => l.advice === advice);
      return `faceswap-pipe: error: ${reason}${last ? `; ${advice}` : ''}\n`;
    })
    .join('');
}

/** The {@link WriteProblem} a failed write of the run's own files is; anything else is a bug, thrown on. */
function writeProblemOrThrow(cause: unknown): WriteProblem {
  const problem = writeProblemOf(cause);
  if (problem === undefined) throw cause;
  return problem;
}

/** Checks --only/--from/--until/--force stage names; undefined (after printing why) when one is unknown. */
function checkSelection(plan: Plan, options: RunOptions, io: CliIo): Selection | undefined {
  const ids = plan.stages.map((s) => s.id as string);
  const named = [
    ...(options.only ?? []),
    ...(options.from ? [options.from] : []),
    ...(options.until ? [options.until] : []),
    ...(options.force === true || options.force === undefined ? [] : options.force),
  ];
  const unknown = named.filter((n) => !ids.includes(n));
  for (const name of unknown)
    io.stderr.write(
      `faceswap-pipe: error: no stage "${name}" in ${plan.recipe.source.path}${didYouMean(name, ids)}\n`,
    );
  if (unknown.length > 0) return undefined;
  const selection: Selection = {
    ...(options.only && options.only.length > 0 && { only: options.only as StageId[] }),
    ...(options.from && { from: options.from as StageId }),
    ...(options.until && { until: options.until as StageId }),
  };
  const deps = new Map(plan.stages.map((s) => [s.id, s.dependsOn] as const));
  const selected = selectedStages(deps, selection);
  // --force applies to the stages a run selects; a forced stage it only needs comes from the
  // cache. Said, rather than ignored without a word.
  if (Array.isArray(options.force))
    for (const name of options.force)
      if (selected.size > 0 && !selected.has(name as StageId))
        io.stderr.write(
          `faceswap-pipe: warning: --force ${name}: stage "${name}" is not selected, so it is not run again (its results come from the cache); select it too to run it\n`,
        );
  if (selected.size === 0) {
    const flags = [
      ...(selection.only ? selection.only.map((s) => `--only ${s}`) : []),
      ...(selection.from ? [`--from ${selection.from}`] : []),
      ...(selection.until ? [`--until ${selection.until}`] : []),
    ].join(' ');
    io.stderr.write(
      `faceswap-pipe: error: ${flags} select no stage: --from keeps a stage and what depends on it, --until a stage and what it needs, and together only the stages on a path between them\n`,
    );
    return undefined;
  }
  return selection;
}

function forceSet(force: RunOptions['force']): true | ReadonlySet<StageId> {
  if (force === true) return true;
  return new Set((force ?? []) as StageId[]);
}

/** The exit code of a finished run (README, "Exit codes"). */
export function exitCodeOf(execution: ExecutionResult): number {
  if (execution.status === 'interrupted') return ExitCode.interrupted;
  // A file of the run's own that could not be written stopped it: nothing else can be fixed
  // before that is.
  if (execution.cannotWrite) return ExitCode.cantCreate;
  if (execution.unauthorized) return ExitCode.noPermission;
  const failures = [...execution.results.values()].flatMap((r) => (r.status === 'failed' ? [r.failure] : []));
  if (failures.length === 0) return ExitCode.ok;
  if (failures.some((f) => f.reason === 'client-missing')) return ExitCode.unavailable;
  // Consent or the prompt screen refused a stage's input at run time, as validate does: 77.
  if (failures.some((f) => f.reason === 'not-permitted')) return ExitCode.noPermission;
  // Only retryable failures whose retries ran out: a re-run is safe and may succeed.
  if (failures.every((f) => f.retryable && isTransient(f.reason))) return ExitCode.tempFail;
  return ExitCode.stageFailed;
}

async function pickReporter(name: ReporterName | undefined, io: CliIo, recipe: Recipe): Promise<RunObserver> {
  const chosen =
    name ??
    (isGithubActions(io.env)
      ? 'github'
      : // A terminal that reports no width (0 columns: a pty nobody sized) would get one
        // character per line from listr2: the plain lines read better there.
        io.stdout.isTTY === true && (io.stdout.columns ?? 0) > 0 && !isCI && wantsColor(io.stdout, io.env)
        ? 'tty'
        : 'plain');
  switch (chosen) {
    case 'tty':
      // listr2 is loaded only for the terminal reporter.
      return new (await import('../../report/tty-reporter.js')).TtyReporter();
    // Chosen by hand inside a GitHub Actions job: service text in them must not become commands.
    case 'plain':
      return new (await import('../../report/plain-reporter.js')).PlainReporter(
        actionsSafeSink(io.stdout, io.env),
      );
    case 'json':
      return new JsonReporter(actionsSafeSink(io.stdout, io.env, 'ndjson'));
    case 'github': {
      const { GithubReporter, stageLocations } = await import('../../report/github-reporter.js');
      return new GithubReporter(io.stdout, {
        env: io.env,
        stageLocations: stageLocations(recipe, { cwd: io.cwd, env: io.env }),
      });
    }
  }
}

/**
 * After the run: the JUnit report, the job summary (GitHub's step summary and/or --summary) and
 * the contact sheet (report.html). Each is tried on its own; one that fails is reported and the
 * others are still written. False when a file named on the command line (--summary, --junit)
 * could not be written, which fails an otherwise good run: `askedFailed` is then called before
 * the contact sheet is made, so that the record it shows says so too.
 */
async function writeReports(ctx: {
  runDir: string;
  plan: Plan;
  options: RunOptions;
  io: CliIo;
  out: CliIo['stdout'];
  thumbStore: string | undefined;
  provenance: ReadonlyMap<string, unknown>;
  askedFailed: () => Promise<void>;
}): Promise<boolean> {
  const { runDir, plan, options, io, out, thumbStore, provenance } = ctx;
  const graph = graphOf(plan);
  let ok = true;
  const attempt = async (what: string, asked: string | undefined, write: () => Promise<void>) => {
    try {
      await write();
    } catch (cause) {
      const reason = (cause as Error).message;
      if (asked === undefined) {
        io.stderr.write(`faceswap-pipe: warning: could not write ${what}: ${reason}\n`);
        return;
      }
      ok = false;
      io.stderr.write(
        `faceswap-pipe: error: could not write ${what} ${asked}: ${reason}; choose a path that can be written\n`,
      );
    }
  };
  // The JUnit report first: quick, and what a CI job cancelled meanwhile needs most.
  const junit = options.junit;
  if (junit !== undefined) {
    await attempt('the JUnit report', junit, async () => {
      // Loaded only when asked for: the XML library costs more to load than a cached run takes.
      const { writeJunitReport } = await import('../../report/junit.js');
      await writeJunitReport(runDir, { file: junit, cwd: io.cwd, graph });
    });
  }
  // The record says 73 before the summary and the contact sheet are made from it.
  let told = false;
  const tell = async () => {
    if (ok || told) return;
    told = true;
    await ctx.askedFailed();
  };
  await tell();
  // The job summary next, also before the contact sheet (which can take seconds to make).
  await attempt('the job summary', options.summary, async () => {
    // GitHub's step summary failing is a warning; the --summary file failing fails the run.
    const asked = options.summary === undefined ? undefined : resolve(io.cwd, options.summary);
    let failure: Error | undefined;
    await writeJobSummary(runDir, {
      ...(options.summary !== undefined && { file: options.summary }),
      env: io.env,
      cwd: io.cwd,
      graph,
      onTargetError: (target, cause) => {
        if (target.path === asked) failure = cause;
        else
          io.stderr.write(
            `faceswap-pipe: warning: could not write the step summary ($GITHUB_STEP_SUMMARY) ${target.path}: ${cause.message}\n`,
          );
      },
    });
    if (failure) throw failure;
  });
  await tell();
  await attempt('the contact sheet', undefined, async () => {
    const report = await writeRunReport(runDir, {
      graph,
      env: io.env,
      ...(thumbStore !== undefined && { thumbStore }),
      provenance,
    });
    out.write(`contact sheet: ${relative(io.cwd, report.path) || report.path}\n`);
  });
  return ok;
}

/**
 * The JUnit report and the job summary, synchronously, for a process about to exit at once
 * (a second signal). Best effort: what cannot be written is skipped, since nothing can wait.
 */
function writeReportsNow(ctx: {
  runDir: string;
  graph: readonly GraphNode[];
  options: RunOptions;
  io: CliIo;
  junit: { renderJunit(run: RunData): string } | undefined;
}): void {
  const { options, io } = ctx;
  let run: RunData;
  try {
    run = readRunDataSync(ctx.runDir, { graph: ctx.graph });
  } catch {
    return;
  }
  const write = (path: string, text: string, append: boolean) => {
    try {
      mkdirSync(dirname(path), { recursive: true });
      (append ? appendFileSync : writeFileSync)(path, text);
    } catch (cause) {
      io.stderr.write(`faceswap-pipe: warning: could not write ${path}: ${(cause as Error).message}\n`);
    }
  };
  if (ctx.junit && options.junit !== undefined)
    write(resolve(io.cwd, options.junit), ctx.junit.renderJunit(run), false);
  const targets = summaryTargets({
    ...(options.summary !== undefined && { file: options.summary }),
    env: io.env,
    cwd: io.cwd,
  });
  for (const t of targets)
    write(
      t.path,
      renderJobSummary(run, { linkBase: t.linkBase, env: io.env, contactSheet: false }),
      t.append,
    );
}

function numberFromEnv(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
