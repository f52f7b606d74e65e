import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { buildPlan } from '../../plan/plan.js';
import { analyzeRecipeFile } from '../../recipe/analyze.js';
import { DEFAULT_MAX_RECIPE_BYTES } from '../../recipe/limits.js';
import {
  graphOf,
  readRunData,
  RunRecordError,
  runStartFolder,
  type GraphNode,
  type RunData,
} from '../../report/html/run-data.js';
import { newestRunDir, writeRunReport } from '../../report/html/write-run-report.js';
import { writeJunitReport } from '../../report/junit.js';
import { writeJobSummary } from '../../report/summary-md.js';
import { ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { loadCatalog } from '../recipe-io.js';

export interface ReportOptions {
  readonly out: string;
  readonly summary?: string;
  readonly junit?: string;
  readonly catalog: readonly string[];
}

/**
 * `faceswap-pipe report [<run dir>]`: rebuilds a finished run's contact sheet from its record
 * (default: the newest run under `--out`), and on request its job summary and JUnit report,
 * so CI outputs can also be made after the fact.
 */
export async function reportCommand(
  dir: string | undefined,
  options: ReportOptions,
  io: CliIo,
): Promise<number> {
  const outRoot = resolve(io.cwd, options.out);
  const runDir = dir !== undefined ? resolve(io.cwd, dir) : await newestRunDir(outRoot);
  if (runDir === undefined) {
    io.stderr.write(
      `faceswap-pipe: error: no run found under ${shown(io, outRoot)}/*/runs/; run a recipe first, or name a run folder\n`,
    );
    return ExitCode.noInput;
  }
  let run: RunData;
  try {
    run = await readRunData(runDir);
  } catch (cause) {
    if (cause instanceof RunRecordError) {
      io.stderr.write(`faceswap-pipe: error: ${cause.message}\n`);
      return cause.kind === 'missing' ? ExitCode.noInput : ExitCode.dataError;
    }
    throw cause;
  }
  // Read the recipe even when the record keeps each stage's needs: only the recipe has the
  // stages' consent subjects and the disclosure label.
  const graph = await recipeGraph(run, io, options.catalog);
  const given = graph ? { graph } : {};
  const report = await writeRunReport(runDir, { ...given, env: io.env });
  io.stdout.write(
    `report: ${shown(io, report.path)} (${report.stages} stage${report.stages === 1 ? '' : 's'}; thumbnails: ${report.thumbnails.made} made, ${report.thumbnails.reused} reused)\n`,
  );
  if (options.summary !== undefined) {
    const written = await writeJobSummary(runDir, {
      file: options.summary,
      env: io.env,
      cwd: io.cwd,
      appendStepSummary: false,
      ...given,
    });
    for (const path of written) io.stdout.write(`summary: ${shown(io, path)}\n`);
  }
  if (options.junit !== undefined) {
    const path = await writeJunitReport(runDir, { file: options.junit, cwd: io.cwd, ...given });
    io.stdout.write(`junit: ${shown(io, path)}\n`);
  }
  return ExitCode.ok;
}

/**
 * The exact stage graph (with consent subjects and the disclosure label), from the recipe the
 * run used, when that file is still there with the same content (its hash is in the record).
 * Undefined otherwise: the page then infers the graph from the record.
 */
async function recipeGraph(
  run: RunData,
  io: CliIo,
  catalogDirs: readonly string[],
): Promise<GraphNode[] | undefined> {
  const file = run.record.recipe.file;
  const start = runStartFolder(run.outDir, run.record.options['out']);
  const candidates = [
    ...new Set([...(start === undefined ? [] : [resolve(start, file)]), resolve(io.cwd, file)]),
  ];
  for (const path of candidates) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    if (createHash('sha256').update(text).digest('hex') !== run.record.recipe.hash) continue;
    const catalog = loadCatalog({ ...io, stderr: { write: () => undefined } }, catalogDirs);
    if ('exit' in catalog) return undefined;
    const analysis = await analyzeRecipeFile(path, {
      catalog,
      sets: [],
      maxBytes: DEFAULT_MAX_RECIPE_BYTES,
      cwd: io.cwd,
    });
    if (!analysis.recipe) return undefined;
    return graphOf(buildPlan(analysis.recipe, catalog));
  }
  return undefined;
}

function shown(io: CliIo, path: string): string {
  const rel = relative(io.cwd, path);
  return rel === '' || rel.startsWith('..') ? path : rel;
}
