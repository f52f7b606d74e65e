import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { version } from '../version.js';
import type { CleanOptions } from './commands/clean.js';
import type { PlanOptions } from './commands/plan.js';
import type { RouteOptions } from './commands/route.js';
import type { ReportOptions } from './commands/report.js';
import type { StatusOptions } from './commands/status.js';
import type { RunOptions } from './commands/run.js';
import type { ValidateOptions } from './commands/validate.js';
import { ExitCode } from './exit-codes.js';
import type { CliIo } from './io.js';
import { options } from './options.js';
import { STAGE_ID_PATTERN } from '../recipe/types.js';
import { describeWriteProblem, writeProblemOf } from '../util/write-problem.js';

const REPORT_URL = 'https://github.com/faceswap-pipe/faceswap-pipe/issues';

/**
 * The whole CLI: parses argv, runs one command, returns its exit code. Tests call this
 * in-process; `bin/faceswap-pipe.js` calls it with the real process.
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let code: number = ExitCode.ok;
  const debug = argv.includes('--debug');
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (cause) {
    if (cause instanceof CommanderError) {
      // Help and version exit 0; every other parse problem is a usage error.
      return cause.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    // A file or folder that could not be written is the machine's state, not a bug (73).
    const unwritable = writeProblemOf(cause);
    if (unwritable !== undefined) {
      io.stderr.write(`faceswap-pipe: error: ${describeWriteProblem(unwritable)}\n`);
      return ExitCode.cantCreate;
    }
    io.stderr.write(
      `faceswap-pipe: internal error: ${(cause as Error)?.message ?? String(cause)}\n` +
        `This is a bug in faceswap-pipe ${version()}; please report it at ${REPORT_URL} with the command you ran.` +
        (debug ? `\n${(cause as Error)?.stack ?? ''}\n` : ' Run with --debug for the stack trace.\n'),
    );
    return ExitCode.internal;
  }
}

function buildProgram(io: CliIo, setCode: (code: number) => void): Command {
  const program = new Command('faceswap-pipe')
    .description('Run face-swap campaigns kept as version-controlled YAML recipes.')
    .version(`faceswap-pipe ${version()}`, '-V, --version')
    .option('--debug', 'show stack traces for internal errors')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  $ faceswap-pipe validate recipes/*.yaml
  $ faceswap-pipe plan recipes/kontext-to-kling.yaml --format mermaid

Exit codes: 0 ok, 1 a stage failed, 64 usage, 65 invalid recipe or data, 66 missing file,
69 service unavailable, 70 internal error, 73 cannot create an output or state file,
75 temporary failure (safe to re-run),
77 not permitted (token, consent), 130 interrupted.`,
    );

  program
    .command('run')
    .description(
      'run a recipe: every stage through the runcomfy client (or the local engine), in dependency order',
    )
    // Optional for commander only: `run --force campaign.yaml` would otherwise read the recipe
    // as the stage to force and then miss the recipe (see recipeAfterForce).
    .argument('[recipe]', 'recipe file')
    .usage('[options] <recipe>')
    .addOption(options.set())
    .addOption(options.engine())
    .addOption(new Option('-j, --concurrency <n>', 'jobs running at once').argParser(positiveInt).default(4))
    .option('--fail-fast', 'stop starting stages after the first failure and cancel running ones', false)
    .addOption(
      new Option(
        '--keep-going',
        'keep running stages that do not depend on a failed one (default)',
      ).conflicts('failFast'),
    )
    .option(
      '--dry-run',
      'resolve and check everything and print the exact runcomfy commands, but call nothing',
      false,
    )
    .addOption(
      new Option(
        '--reporter <name>',
        'tty (listr2), plain (one line per event), json (NDJSON events) or github (plain lines, grouped per stage, with annotations); default: github when GITHUB_ACTIONS=true, tty on a terminal, plain otherwise',
      ).choices(['tty', 'plain', 'json', 'github']),
    )
    .option(
      '--summary <file>',
      'also write the job summary (Markdown) to this file; under GitHub Actions it is appended to $GITHUB_STEP_SUMMARY as well',
    )
    .option(
      '--junit <file>',
      'write a JUnit XML report (one test case per stage, or per item of a fan-out stage)',
    )
    .option('--out <dir>', 'output folder; files go to <dir>/<recipe name>/', 'outputs')
    .option('--runcomfy <path>', 'the runcomfy executable (default: runcomfy on PATH; env FACESWAP_RUNCOMFY)')
    .addOption(options.stateDir())
    .addOption(
      new Option(
        '--force [stage]',
        'ignore the cache: for every stage, or (repeatable) for the named stage',
      ).argParser(collectStages),
    )
    .option('--no-cache', 'run without reading or writing the cache')
    .addOption(
      new Option(
        '--only <stage>',
        'run just this stage (repeatable, or comma-separated); upstream results come from the cache',
      ).argParser(collectStages),
    )
    .addOption(
      new Option('--from <stage>', 'run this stage and everything downstream of it').argParser(oneStage),
    )
    .addOption(new Option('--until <stage>', 'run this stage and everything it needs').argParser(oneStage))
    .addOption(
      new Option(
        '--poll-interval <ms>',
        'milliseconds between status checks of a job (env FACESWAP_POLL_INTERVAL_MS; default 2000)',
      ).argParser(positiveInt),
    )
    .addOption(options.catalog())
    .addOption(options.maxRecipeSize())
    .addOption(allowInsecureLocalOption())
    .addHelpText(
      'after',
      '\nExamples:\n  $ RUNCOMFY_TOKEN=... faceswap-pipe run recipes/kontext-to-kling.yaml\n  $ faceswap-pipe run campaign.yaml --dry-run\n  $ faceswap-pipe run campaign.yaml --reporter json --concurrency 8 > events.ndjson',
    )
    .action(async (file: string | undefined, opts: RunOptions, command: Command) => {
      const args = recipeAfterForce(file, opts);
      if (!args) command.error("error: missing required argument 'recipe'", { exitCode: ExitCode.usage });
      setCode(await (await import('./commands/run.js')).runCommand(args.file, args.opts, io));
    });

  withStateOptions(
    program
      .command('status')
      .description(
        'show each stage: done (cached), stale, running (request id), never run; and what a run would call',
      )
      .argument('<recipe>', 'recipe file')
      .addOption(options.format(['text', 'json'], 'text')),
  )
    .addHelpText('after', '\nExample:\n  $ faceswap-pipe status recipes/kontext-to-kling.yaml')
    .action(async (file: string, opts: StatusOptions) =>
      setCode(await (await import('./commands/status.js')).statusCommand(file, opts, io)),
    );

  withStateOptions(
    program
      .command('clean')
      .description("remove a recipe's state (cache, job records) and, unless --keep-outputs, its outputs")
      .argument('<recipe>', 'recipe file')
      .option('--keep-outputs', 'keep outputs/<recipe>/', false)
      .option(
        '--force',
        'also forget jobs still recorded as in flight (they may be running, and billing, on the service)',
        false,
      ),
  )
    .addHelpText('after', '\nExample:\n  $ faceswap-pipe clean recipes/kontext-to-kling.yaml --keep-outputs')
    .action(async (file: string, opts: CleanOptions) =>
      setCode(await (await import('./commands/clean.js')).cleanCommand(file, opts, io)),
    );

  program
    .command('report')
    .description(
      "rebuild a run's contact sheet (report.html, with thumbnails) and, on request, its job summary and JUnit report",
    )
    .argument(
      '[run-dir]',
      'a run folder, outputs/<recipe>/runs/<timestamp> (default: the newest run under --out)',
    )
    .option('--out <dir>', 'output folder to look for the newest run in', 'outputs')
    .option('--summary <file>', 'also write the job summary (Markdown) to this file')
    .option('--junit <file>', 'also write a JUnit XML report to this file')
    .addOption(options.catalog())
    .addHelpText(
      'after',
      '\nExamples:\n  $ faceswap-pipe report\n  $ faceswap-pipe report outputs/summer-launch/runs/2026-05-01T09-30-00.000Z --junit junit.xml --summary summary.md',
    )
    .action(async (dir: string | undefined, opts: ReportOptions) =>
      setCode(await (await import('./commands/report.js')).reportCommand(dir, opts, io)),
    );

  withAnalysisOptions(
    program
      .command('validate')
      .description('check recipes without running anything; reports every problem with file:line:col')
      .argument('<recipe...>', 'recipe files')
      .addOption(options.format(['text', 'json'], 'text')),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ faceswap-pipe validate recipes/*.yaml\n  $ faceswap-pipe validate campaign.yaml --format json > diagnostics.json',
    )
    .action(async (files: string[], opts: ValidateOptions) =>
      setCode(await (await import('./commands/validate.js')).validateCommand(files, opts, io)),
    );

  withAnalysisOptions(
    program
      .command('plan')
      .description('show what a run would do: stages in order, models, dependencies and model calls')
      .argument('<recipe>', 'recipe file')
      .addOption(options.format(['text', 'json', 'mermaid'], 'text')),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ faceswap-pipe plan recipes/kontext-to-kling.yaml\n  $ faceswap-pipe plan recipes/kontext-to-kling.yaml --format mermaid --set dance=https://assets.example.com/salsa.mp4',
    )
    .action(async (file: string, opts: PlanOptions) =>
      setCode(await (await import('./commands/plan.js')).planCommand(file, opts, io)),
    );

  withAnalysisOptions(
    program
      .command('route')
      .description(
        'explain how each swap: stage is routed: inputs seen and their kinds, the rule, the model, the calls, the routes not taken',
      )
      .argument('<recipe>', 'recipe file')
      .argument('[stage]', 'only this stage')
      .addOption(options.format(['text', 'json'], 'text')),
    { insecureLocal: false },
  )
    .addHelpText(
      'after',
      '\nExamples:\n  $ faceswap-pipe route recipes/sku-gallery.yaml\n  $ faceswap-pipe route recipes/hero-still.yaml hero --format json\n  $ faceswap-pipe route recipes/sku-gallery.yaml --engine local',
    )
    .action(async (file: string, stage: string | undefined, opts: RouteOptions) =>
      setCode(await (await import('./commands/route.js')).routeCommand(file, stage, opts, io)),
    );

  program
    .command('verify')
    .description(
      'check output files against their provenance records: hash, disclosure label, consent references',
    )
    .argument(
      '<file...>',
      "output files, their .provenance.json records, or a run's manifest.json (every file it lists)",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ faceswap-pipe verify outputs/summer-launch/face/*/result.png\n  $ faceswap-pipe verify outputs/summer-launch/runs/*/manifest.json',
    )
    .action(async (files: string[]) =>
      setCode(await (await import('./commands/verify.js')).verifyCommand(files, io)),
    );

  program
    .command('models')
    .description('list the model catalog: ids, what each does, still or video, input fields')
    .addOption(options.format(['text', 'json'], 'text'))
    .addOption(options.catalog())
    .addHelpText('after', '\nExamples:\n  $ faceswap-pipe models\n  $ faceswap-pipe models --format json')
    .action(async (opts: { format: 'text' | 'json'; catalog: string[] }) =>
      setCode((await import('./commands/models.js')).modelsCommand(opts, io)),
    );

  program
    .command('schema')
    .description('print the recipe JSON Schema (for editors: see docs/recipes.md)')
    .addHelpText('after', '\nExample:\n  $ faceswap-pipe schema > recipe.schema.json')
    .action(async () => setCode((await import('./commands/schema.js')).schemaCommand(io)));

  return program;
}

/**
 * `--allow-insecure-local`: recipes may send loopback URLs (127.0.0.0/8, ::1, localhost), over
 * plain http too. For tests against a local server only; CI examples never set it.
 */
function allowInsecureLocalOption(): Option {
  return new Option(
    '--allow-insecure-local',
    'let recipes send loopback URLs (http too), for tests against a local server; never needed in production',
  ).default(false);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/**
 * `run --force campaign.yaml`: `--force` takes an optional stage, so commander hands it the
 * recipe. A stage id never contains "." or "/", so a last `--force` value that does is the
 * recipe, and the force is for every stage (or for the stages named before it).
 */
function recipeAfterForce(
  file: string | undefined,
  opts: RunOptions,
): { file: string; opts: RunOptions } | undefined {
  if (file !== undefined) return { file, opts };
  const force = Array.isArray(opts.force) ? (opts.force as readonly string[]) : [];
  const last = force.at(-1);
  if (last === undefined || STAGE_ID_PATTERN.test(last)) return undefined;
  const rest = force.slice(0, -1);
  return { file: last, opts: { ...opts, force: rest.length > 0 ? rest : true } };
}

/**
 * Repeatable stage options; values may also be comma-separated (`--only a,b`). An empty value
 * (`--only "$STAGE"` with the variable unset) names no stage: an error, not the whole recipe.
 */
function collectStages(value: string, previous: unknown): string[] {
  const before = Array.isArray(previous) ? (previous as string[]) : [];
  const stages = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (stages.length === 0) throw new InvalidArgumentError(NO_STAGE);
  return [...before, ...stages];
}

function oneStage(value: string): string {
  const stage = value.trim();
  if (stage === '') throw new InvalidArgumentError(NO_STAGE);
  return stage;
}

const NO_STAGE = 'expected a stage id, but the value is empty (an unset variable?)';

/** The options of the commands that analyse a recipe without running it, in their help order. */
function withAnalysisOptions(command: Command, { insecureLocal = true } = {}): Command {
  for (const option of [
    options.set(),
    options.engine(),
    options.catalog(),
    options.maxRecipeSize(),
    ...(insecureLocal ? [allowInsecureLocalOption()] : []),
  ])
    command.addOption(option);
  return command;
}

/** Adds the options of the commands that read a recipe's state (status, clean), defined once. */
function withStateOptions(command: Command): Command {
  for (const option of [
    options.set(),
    options.engine(),
    new Option('--out <dir>', 'output folder the runs used').default('outputs'),
    options.stateDir(),
    options.catalog(),
    options.maxRecipeSize(),
  ])
    command.addOption(option);
  return command;
}
